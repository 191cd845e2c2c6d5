"""The IKEv2 link (strongSwan charon over VICI)."""
