"""The PPP link: pppd for modem, serial, ISDN and PPPoE entries."""
