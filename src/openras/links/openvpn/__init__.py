"""The OpenVPN link: openvpn 2.6 driven over its management socket."""
