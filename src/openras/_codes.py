"""RAS and Win32 error codes with their English texts. Generated; do not edit by hand.

RAS codes 600-875: symbol and text from the Windows SDK ``RasError.h`` (the Windows 10 SDK copy
vendored by DotRas/DotRas as ``includes/um/RasError.h``), where the message ``RasGetErrorString``
returns is the comment under each ``#define``. The text is kept verbatim, including the SDK's
double spaces, typos and missing final periods, because scripts match on it; only the
``FormatMessage`` ``%0`` terminator is dropped. Symbols were cross-checked with mingw-w64
``raserror.h``.

Every live code's text was then checked against Windows' own message table (``mprmsg.dll``
10.0.18362/19041 and 10.0.22000, as dumped in libyal/winevt-kb's message-file docs), which is
where ``RasGetErrorString`` and ``rasdial`` take it from: all equal except 825 (the table keeps
a trailing space) and 826 (a CR LF inside), both now as the table has them. The longer
wordings seen in old transcripts (797's "...not found or was busy.  For further assistance,
click More Info...") are Vista's table (6.0.6000); Windows 7 to 11 print the texts here.

Codes marked ``# obsolete`` are defined only for ``WINVER < 0x600`` (NAP codes 818-822: only
``WINVER <= 0x600``). For the ones the SDK obsoleted in Vista the message is empty (``%0``), so
their text here is the SDK's description comment above the ``#define``; where that comment is
just the symbol (690, 706, 745-748, 750) the symbol is the text, as the SDK itself does for 693
and 694.

Win32 codes: the ``FormatMessage`` texts of ``winerror.h``.

:mod:`openras.errors` is the public face of this table.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing's constant, without importing typing (see openras._lazy)
if TYPE_CHECKING:
    from typing import Final


#: code -> (symbol, English message)
CODES: Final[dict[int, tuple[str, str]]] = {
    0: ("ERROR_SUCCESS", "The operation completed successfully."),
    5: ("ERROR_ACCESS_DENIED", "Access is denied."),
    6: ("ERROR_INVALID_HANDLE", "The handle is invalid."),
    8: (
        "ERROR_NOT_ENOUGH_MEMORY",
        "Not enough memory resources are available to process this command.",
    ),
    87: ("ERROR_INVALID_PARAMETER", "The parameter is incorrect."),
    122: ("ERROR_INSUFFICIENT_BUFFER", "The data area passed to a system call is too small."),
    123: (
        "ERROR_INVALID_NAME",
        "The filename, directory name, or volume label syntax is incorrect.",
    ),
    183: ("ERROR_ALREADY_EXISTS", "Cannot create a file when that file already exists."),
    600: ("PENDING", "An operation is pending."),
    601: ("ERROR_INVALID_PORT_HANDLE", "An invalid port handle was detected."),
    602: ("ERROR_PORT_ALREADY_OPEN", "The specified port is already open."),
    603: ("ERROR_BUFFER_TOO_SMALL", "The caller's buffer is too small."),
    604: ("ERROR_WRONG_INFO_SPECIFIED", "Incorrect information was specified."),
    605: ("ERROR_CANNOT_SET_PORT_INFO", "The port information cannot be set."),  # obsolete
    606: ("ERROR_PORT_NOT_CONNECTED", "The specified port is not connected."),
    607: ("ERROR_EVENT_INVALID", "An invalid event was detected."),  # obsolete
    608: ("ERROR_DEVICE_DOES_NOT_EXIST", "A device was specified that does not exist."),
    609: ("ERROR_DEVICETYPE_DOES_NOT_EXIST", "A device type was specified that does not exist."),
    610: ("ERROR_BUFFER_INVALID", "An invalid buffer was specified."),
    611: ("ERROR_ROUTE_NOT_AVAILABLE", "A route was specified that is not available."),  # obsolete
    612: ("ERROR_ROUTE_NOT_ALLOCATED", "A route was specified that is not allocated."),
    613: (  # obsolete
        "ERROR_INVALID_COMPRESSION_SPECIFIED",
        "An invalid compression was specified.",
    ),
    614: ("ERROR_OUT_OF_BUFFERS", "There were insufficient buffers available."),  # obsolete
    615: ("ERROR_PORT_NOT_FOUND", "The specified port was not found."),
    616: ("ERROR_ASYNC_REQUEST_PENDING", "An asynchronous request is pending."),
    617: (
        "ERROR_ALREADY_DISCONNECTING",
        "The modem (or other connecting device) is already disconnecting.",
    ),
    618: ("ERROR_PORT_NOT_OPEN", "The specified port is not open."),
    619: (
        "ERROR_PORT_DISCONNECTED",
        "A connection to the remote computer could not be established, so the port used for this "
        "connection was closed.",
    ),
    620: ("ERROR_NO_ENDPOINTS", "No endpoints could be determined."),  # obsolete
    621: ("ERROR_CANNOT_OPEN_PHONEBOOK", "The system could not open the phone book file."),
    622: ("ERROR_CANNOT_LOAD_PHONEBOOK", "The system could not load the phone book file."),
    623: (
        "ERROR_CANNOT_FIND_PHONEBOOK_ENTRY",
        "The system could not find the phone book entry for this connection.",
    ),
    624: ("ERROR_CANNOT_WRITE_PHONEBOOK", "The system could not update the phone book file."),
    625: (
        "ERROR_CORRUPT_PHONEBOOK",
        "The system found invalid information in the phone book file.",
    ),
    626: ("ERROR_CANNOT_LOAD_STRING", "A string could not be loaded."),  # obsolete
    627: ("ERROR_KEY_NOT_FOUND", "A key could not be found."),
    628: (
        "ERROR_DISCONNECTION",
        "The connection was terminated by the remote computer before it could be completed.",
    ),
    629: ("ERROR_REMOTE_DISCONNECTION", "The connection was closed by the remote computer."),
    630: (
        "ERROR_HARDWARE_FAILURE",
        "The modem (or other connecting device) was disconnected due to hardware failure.",
    ),
    631: (
        "ERROR_USER_DISCONNECTION",
        "The user disconnected the modem (or other connecting device).",
    ),
    632: ("ERROR_INVALID_SIZE", "An incorrect structure size was detected."),
    633: (
        "ERROR_PORT_NOT_AVAILABLE",
        "The modem (or other connecting device) is already in use or is not configured properly.",
    ),
    634: (  # obsolete
        "ERROR_CANNOT_PROJECT_CLIENT",
        "Your computer could not be registered on the remote network.",
    ),
    635: ("ERROR_UNKNOWN", "There was an unknown error."),
    636: (
        "ERROR_WRONG_DEVICE_ATTACHED",
        "The device attached to the port is not the one expected.",
    ),
    637: ("ERROR_BAD_STRING", "A string was detected that could not be converted."),  # obsolete
    638: ("ERROR_REQUEST_TIMEOUT", "The remote server is not responding in a timely fashion."),
    639: ("ERROR_CANNOT_GET_LANA", "No asynchronous net is available."),  # obsolete
    640: ("ERROR_NETBIOS_ERROR", "An error has occurred involving NetBIOS."),  # obsolete
    641: (  # obsolete
        "ERROR_SERVER_OUT_OF_RESOURCES",
        "The server cannot allocate NetBIOS resources needed to support the client.",
    ),
    642: (  # obsolete
        "ERROR_NAME_EXISTS_ON_NET",
        "One of your computer's NetBIOS names is already registered on the remote network.",
    ),
    643: (  # obsolete
        "ERROR_SERVER_GENERAL_NET_FAILURE",
        "A network adapter at the server failed.",
    ),
    644: (  # obsolete
        "WARNING_MSG_ALIAS_NOT_ADDED",
        "You will not receive network message popups.",
    ),
    645: ("ERROR_AUTH_INTERNAL", "There was an internal authentication error."),
    646: (
        "ERROR_RESTRICTED_LOGON_HOURS",
        "The account is not permitted to log on at this time of day.",
    ),
    647: ("ERROR_ACCT_DISABLED", "The account is disabled."),
    648: ("ERROR_PASSWD_EXPIRED", "The password for this account has expired."),
    649: ("ERROR_NO_DIALIN_PERMISSION", "The account does not have permission to dial in."),
    650: ("ERROR_SERVER_NOT_RESPONDING", "The remote access server is not responding."),  # obsolete
    651: ("ERROR_FROM_DEVICE", "The modem (or other connecting device) has reported an error."),
    652: (
        "ERROR_UNRECOGNIZED_RESPONSE",
        "There was an unrecognized response from the modem (or other connecting device).",
    ),
    653: (
        "ERROR_MACRO_NOT_FOUND",
        "A macro required by the modem (or other connecting device) was not found in the "
        "device.INF file.",
    ),
    654: (
        "ERROR_MACRO_NOT_DEFINED",
        "A command or response in the device.INF file section refers to an undefined macro.",
    ),
    655: (
        "ERROR_MESSAGE_MACRO_NOT_FOUND",
        "The <message> macro was not found in the device.INF file section.",
    ),
    656: (
        "ERROR_DEFAULTOFF_MACRO_NOT_FOUND",
        "The <defaultoff> macro in the device.INF file section contains an undefined macro.",
    ),
    657: ("ERROR_FILE_COULD_NOT_BE_OPENED", "The device.INF file could not be opened."),
    658: (
        "ERROR_DEVICENAME_TOO_LONG",
        "The device name in the device.INF or media.INI file is too long.",
    ),
    659: ("ERROR_DEVICENAME_NOT_FOUND", "The media.INI file refers to an unknown device name."),
    660: ("ERROR_NO_RESPONSES", "The device.INF file contains no responses for the command."),
    661: ("ERROR_NO_COMMAND_FOUND", "The device.INF file is missing a command."),
    662: (
        "ERROR_WRONG_KEY_SPECIFIED",
        "There was an attempt to set a macro not listed in device.INF file section.",
    ),
    663: ("ERROR_UNKNOWN_DEVICE_TYPE", "The media.INI file refers to an unknown device type."),
    664: ("ERROR_ALLOCATING_MEMORY", "The system has run out of memory."),
    665: (
        "ERROR_PORT_NOT_CONFIGURED",
        "The modem (or other connecting device) is not properly configured.",
    ),
    666: ("ERROR_DEVICE_NOT_READY", "The modem (or other connecting device) is not functioning."),
    667: ("ERROR_READING_INI_FILE", "The system was unable to read the media.INI file."),
    668: ("ERROR_NO_CONNECTION", "The connection was terminated."),
    669: ("ERROR_BAD_USAGE_IN_INI_FILE", "The usage parameter in the media.INI file is invalid."),
    670: (
        "ERROR_READING_SECTIONNAME",
        "The system was unable to read the section name from the media.INI file.",
    ),
    671: (
        "ERROR_READING_DEVICETYPE",
        "The system was unable to read the device type from the media.INI file.",
    ),
    672: (
        "ERROR_READING_DEVICENAME",
        "The system was unable to read the device name from the media.INI file.",
    ),
    673: (
        "ERROR_READING_USAGE",
        "The system was unable to read the usage from the media.INI file.",
    ),
    674: (  # obsolete
        "ERROR_READING_MAXCONNECTBPS",
        "The system was unable to read the maximum connection BPS rate from the media.INI file.",
    ),
    675: (  # obsolete
        "ERROR_READING_MAXCARRIERBPS",
        "The system was unable to read the maximum carrier connection speed from the media.INI "
        "file.",
    ),
    676: ("ERROR_LINE_BUSY", "The phone line is busy."),
    677: (
        "ERROR_VOICE_ANSWER",
        "A person answered instead of a modem (or other connecting device).",
    ),
    678: (
        "ERROR_NO_ANSWER",
        "The remote computer did not respond. To make sure that the server can be reached, ping "
        "the remote computer.",
    ),
    679: ("ERROR_NO_CARRIER", "The system could not detect the carrier."),
    680: ("ERROR_NO_DIALTONE", "There was no dial tone."),
    681: (  # obsolete
        "ERROR_IN_COMMAND",
        "The modem (or other connecting device) reported a general error.",
    ),
    682: (  # obsolete
        "ERROR_WRITING_SECTIONNAME",
        "There was an error in writing the section name.",
    ),
    683: ("ERROR_WRITING_DEVICETYPE", "There was an error in writing the device type."),  # obsolete
    684: ("ERROR_WRITING_DEVICENAME", "There was an error in writing the device name."),  # obsolete
    685: (  # obsolete
        "ERROR_WRITING_MAXCONNECTBPS",
        "There was an error in writing the maximum connection speed.",
    ),
    686: (  # obsolete
        "ERROR_WRITING_MAXCARRIERBPS",
        "There was an error in writing the maximum carrier speed.",
    ),
    687: ("ERROR_WRITING_USAGE", "There was an error in writing the usage."),  # obsolete
    688: ("ERROR_WRITING_DEFAULTOFF", "There was an error in writing the default-off."),  # obsolete
    689: ("ERROR_READING_DEFAULTOFF", "There was an error in reading the default-off."),  # obsolete
    690: ("ERROR_EMPTY_INI_FILE", "ERROR_EMPTY_INI_FILE"),  # obsolete
    691: (
        "ERROR_AUTHENTICATION_FAILURE",
        "The remote connection was denied because the user name and password combination you "
        "provided is not recognized, or the selected authentication protocol is not permitted on "
        "the remote access server.",
    ),
    692: (
        "ERROR_PORT_OR_DEVICE",
        "There was a hardware failure in the modem (or other connecting device).",
    ),
    693: ("ERROR_NOT_BINARY_MACRO", "ERROR_NOT_BINARY_MACRO"),
    694: ("ERROR_DCB_NOT_FOUND", "ERROR_DCB_NOT_FOUND"),
    695: ("ERROR_STATE_MACHINES_NOT_STARTED", "The state machines are not started."),
    696: ("ERROR_STATE_MACHINES_ALREADY_STARTED", "The state machines are already started."),
    697: ("ERROR_PARTIAL_RESPONSE_LOOPING", "The response looping did not complete."),
    698: (
        "ERROR_UNKNOWN_RESPONSE_KEY",
        "A response keyname in the device.INF file is not in the expected format.",
    ),
    699: (
        "ERROR_RECV_BUF_FULL",
        "The modem (or other connecting device) response caused a buffer overflow.",
    ),
    700: ("ERROR_CMD_TOO_LONG", "The expanded command in the device.INF file is too long."),
    701: (
        "ERROR_UNSUPPORTED_BPS",
        "The modem moved to a connection speed not supported by the COM driver.",
    ),
    702: ("ERROR_UNEXPECTED_RESPONSE", "Device response received when none expected."),
    703: (
        "ERROR_INTERACTIVE_MODE",
        "The connection needs information from you, but the application does not allow user "
        "interaction.",
    ),
    704: ("ERROR_BAD_CALLBACK_NUMBER", "The callback number is invalid."),
    705: ("ERROR_INVALID_AUTH_STATE", "The authorization state is invalid."),
    706: ("ERROR_WRITING_INITBPS", "ERROR_WRITING_INITBPS"),  # obsolete
    707: ("ERROR_X25_DIAGNOSTIC", "There was an error related to the X.25 protocol."),
    708: ("ERROR_ACCT_EXPIRED", "The account has expired."),
    709: (
        "ERROR_CHANGING_PASSWORD",
        "There was an error changing the password on the domain.  The password might have been too "
        "short or might have matched a previously used password.",
    ),
    710: (
        "ERROR_OVERRUN",
        "Serial overrun errors were detected while communicating with the modem.",
    ),
    711: (
        "ERROR_RASMAN_CANNOT_INITIALIZE",
        "The operation could not finish because it could not start the Remote Access Connection "
        "Manager service in time. Please try the operation again.",
    ),
    712: (  # obsolete
        "ERROR_BIPLEX_PORT_NOT_AVAILABLE",
        "The two-way port is initializing.  Wait a few seconds and redial.",
    ),
    713: ("ERROR_NO_ACTIVE_ISDN_LINES", "No active ISDN lines are available."),
    714: (  # obsolete
        "ERROR_NO_ISDN_CHANNELS_AVAILABLE",
        "No ISDN channels are available to make the call.",
    ),
    715: (  # obsolete
        "ERROR_TOO_MANY_LINE_ERRORS",
        "Too many errors occurred because of poor phone line quality.",
    ),
    716: ("ERROR_IP_CONFIGURATION", "The Remote Access Service IP configuration is unusable."),
    717: (
        "ERROR_NO_IP_ADDRESSES",
        "No IP addresses are available in the static pool of Remote Access Service IP addresses.",
    ),
    718: (
        "ERROR_PPP_TIMEOUT",
        "The connection was terminated because the remote computer did not respond in a timely "
        "manner.",
    ),
    719: (  # obsolete
        "ERROR_PPP_REMOTE_TERMINATED",
        "The connection was terminated by the remote computer.",
    ),
    720: (
        "ERROR_PPP_NO_PROTOCOLS_CONFIGURED",
        "A connection to the remote computer could not be established.  You might need to change "
        "the network settings for this connection.",
    ),
    721: (
        "ERROR_PPP_NO_RESPONSE",
        "A connection to the remote access server was not made because the remote access server "
        "did not respond.",
    ),
    722: (
        "ERROR_PPP_INVALID_PACKET",
        "Invalid data was received from the remote computer.  This data was ignored.",
    ),
    723: (
        "ERROR_PHONE_NUMBER_TOO_LONG",
        "The phone number, including prefix and suffix, is too long.",
    ),
    724: (  # obsolete
        "ERROR_IPXCP_NO_DIALOUT_CONFIGURED",
        "The IPX protocol cannot dial out on the modem (or other connecting device) because this "
        "computer is not configured for dialing out (it is an IPX router).",
    ),
    725: (  # obsolete
        "ERROR_IPXCP_NO_DIALIN_CONFIGURED",
        "The IPX protocol cannot dial in on the modem (or other connecting device) because this "
        "computer is not configured for dialing in (the IPX router is not installed).",
    ),
    726: (
        "ERROR_IPXCP_DIALOUT_ALREADY_ACTIVE",
        "The IPX protocol cannot be used for dialing out on more than one modem (or other "
        "connecting device) at a time.",
    ),
    727: ("ERROR_ACCESSING_TCPCFGDLL", "Cannot access TCPCFG.DLL."),  # obsolete
    728: ("ERROR_NO_IP_RAS_ADAPTER", "The system cannot find an IP adapter."),
    729: ("ERROR_SLIP_REQUIRES_IP", "SLIP cannot be used unless the IP protocol is installed."),
    730: ("ERROR_PROJECTION_NOT_COMPLETE", "Computer registration is not complete."),  # obsolete
    731: ("ERROR_PROTOCOL_NOT_CONFIGURED", "The protocol is not configured."),
    732: (
        "ERROR_PPP_NOT_CONVERGING",
        "Your computer and the remote computer could not agree on PPP control protocols.",
    ),
    733: (
        "ERROR_PPP_CP_REJECTED",
        "A connection to the remote computer could not be completed.  You might need to adjust the "
        "protocols on this computer.",
    ),
    734: ("ERROR_PPP_LCP_TERMINATED", "The PPP link control protocol was terminated."),
    735: (
        "ERROR_PPP_REQUIRED_ADDRESS_REJECTED",
        "The requested address was rejected by the server.",
    ),
    736: ("ERROR_PPP_NCP_TERMINATED", "The remote computer terminated the control protocol."),
    737: ("ERROR_PPP_LOOPBACK_DETECTED", "Loopback was detected."),
    738: (
        "ERROR_PPP_NO_ADDRESS_ASSIGNED",
        "The remote connection was not made because the remote access server did not assign an IP "
        "address.",
    ),
    739: (
        "ERROR_CANNOT_USE_LOGON_CREDENTIALS",
        "The authentication protocol required by the remote server cannot use the stored "
        "password.  Redial, entering the password explicitly.",
    ),
    740: ("ERROR_TAPI_CONFIGURATION", "An invalid dialing rule was detected."),
    741: (
        "ERROR_NO_LOCAL_ENCRYPTION",
        "The local computer does not support the required data encryption type.",
    ),
    742: (
        "ERROR_NO_REMOTE_ENCRYPTION",
        "The remote computer does not support the required data encryption type.",
    ),
    743: (  # obsolete
        "ERROR_REMOTE_REQUIRES_ENCRYPTION",
        "The remote computer requires data encryption.",
    ),
    744: (  # obsolete
        "ERROR_IPXCP_NET_NUMBER_CONFLICT",
        "The system cannot use the IPX network number assigned by the remote computer.  Additional "
        "information is provided in the event log.",
    ),
    745: ("ERROR_INVALID_SMM", "ERROR_INVALID_SMM"),  # obsolete
    746: ("ERROR_SMM_UNINITIALIZED", "ERROR_SMM_UNINITIALIZED"),  # obsolete
    747: ("ERROR_NO_MAC_FOR_PORT", "ERROR_NO_MAC_FOR_PORT"),  # obsolete
    748: ("ERROR_SMM_TIMEOUT", "ERROR_SMM_TIMEOUT"),  # obsolete
    749: (
        "ERROR_BAD_PHONE_NUMBER",
        "The destination address or phone number is either invalid or not present.",
    ),
    750: ("ERROR_WRONG_MODULE", "ERROR_WRONG_MODULE"),  # obsolete
    751: (  # obsolete
        "ERROR_INVALID_CALLBACK_NUMBER",
        "The callback number contains an invalid character.  Only the following 18 characters are "
        "allowed:  0 to 9, T, P, W, (, ), -, @, and space.",
    ),
    752: ("ERROR_SCRIPT_SYNTAX", "A syntax error was encountered while processing a script."),
    753: (
        "ERROR_HANGUP_FAILED",
        "The connection could not be disconnected because the user does not have the required "
        "permission to disconnect.",
    ),
    754: ("ERROR_BUNDLE_NOT_FOUND", "The system could not find the multi-link bundle."),
    755: (
        "ERROR_CANNOT_DO_CUSTOMDIAL",
        "The system cannot perform automated dial because this connection has a custom dialer "
        "specified.",
    ),
    756: ("ERROR_DIAL_ALREADY_IN_PROGRESS", "This connection is already being dialed."),
    757: (
        "ERROR_RASAUTO_CANNOT_INITIALIZE",
        "Remote Access Services could not be started automatically.  Additional information is "
        "provided in the event log.",
    ),
    758: (  # obsolete
        "ERROR_CONNECTION_ALREADY_SHARED",
        "Internet Connection Sharing is already enabled on the connection.",
    ),
    759: (  # obsolete
        "ERROR_SHARING_CHANGE_FAILED",
        "An error occurred while the existing Internet Connection Sharing settings were being "
        "changed.",
    ),
    760: (  # obsolete
        "ERROR_SHARING_ROUTER_INSTALL",
        "An error occurred while routing capabilities were being enabled.",
    ),
    761: (  # obsolete
        "ERROR_SHARE_CONNECTION_FAILED",
        "An error occurred while Internet Connection Sharing was being enabled for the connection.",
    ),
    762: (  # obsolete
        "ERROR_SHARING_PRIVATE_INSTALL",
        "An error occurred while the local network was being configured for sharing.",
    ),
    763: (  # obsolete
        "ERROR_CANNOT_SHARE_CONNECTION",
        "Internet Connection Sharing cannot be enabled.  There is more than one LAN connection "
        "other than the connection to be shared.",
    ),
    764: ("ERROR_NO_SMART_CARD_READER", "No smart card reader is installed."),
    765: (
        "ERROR_SHARING_ADDRESS_EXISTS",
        "Internet Connection Sharing cannot be enabled.  A LAN connection is already configured "
        "with the IP address that is required for automatic IP addressing.",
    ),
    766: (
        "ERROR_NO_CERTIFICATE",
        "A certificate could not be found.  Connections that use the L2TP protocol over IPSec "
        "require the installation of a machine certificate, also known as a computer certificate.",
    ),
    767: (
        "ERROR_SHARING_MULTIPLE_ADDRESSES",
        "Internet Connection Sharing cannot be enabled.  The LAN connection selected as the "
        "private network has more than one IP address configured.  Please reconfigure the LAN "
        "connection with a single IP address before enabling Internet Connection Sharing.",
    ),
    768: (
        "ERROR_FAILED_TO_ENCRYPT",
        "The connection attempt failed because of failure to encrypt data.",
    ),
    769: ("ERROR_BAD_ADDRESS_SPECIFIED", "The specified destination is not reachable."),
    770: ("ERROR_CONNECTION_REJECT", "The remote computer rejected the connection attempt."),
    771: ("ERROR_CONGESTION", "The connection attempt failed because the network is busy."),
    772: (
        "ERROR_INCOMPATIBLE",
        "The remote computer's network hardware is incompatible with the type of call requested.",
    ),
    773: (
        "ERROR_NUMBERCHANGED",
        "The connection attempt failed because the destination number has changed.",
    ),
    774: (
        "ERROR_TEMPFAILURE",
        "The connection attempt failed because of a temporary failure.  Try connecting again.",
    ),
    775: ("ERROR_BLOCKED", "The call was blocked by the remote computer."),
    776: (
        "ERROR_DONOTDISTURB",
        "The call could not be connected because the remote computer has invoked the Do Not "
        "Disturb feature.",
    ),
    777: (
        "ERROR_OUTOFORDER",
        "The connection attempt failed because the modem (or other connecting device) on the "
        "remote computer is out of order.",
    ),
    778: (
        "ERROR_UNABLE_TO_AUTHENTICATE_SERVER",
        "It was not possible to verify the identity of the server.",
    ),
    779: (  # obsolete
        "ERROR_SMART_CARD_REQUIRED",
        "To dial out using this connection you must use a smart card.",
    ),
    780: (
        "ERROR_INVALID_FUNCTION_FOR_ENTRY",
        "An attempted function is not valid for this connection.",
    ),
    781: (  # obsolete
        "ERROR_CERT_FOR_ENCRYPTION_NOT_FOUND",
        "The connection requires a certificate, and no valid certificate was found.  For further "
        "assistance, click More Info or search Help and Support Center for this error number.",
    ),
    782: (
        "ERROR_SHARING_RRAS_CONFLICT",
        "Internet Connection Sharing (ICS) and Internet Connection Firewall (ICF) cannot be "
        "enabled because Routing and Remote Access has been enabled on this computer.  To enable "
        "ICS or ICF, first disable Routing and Remote Access.  For more information about Routing "
        "and Remote Access, ICS, or ICF, see Help and Support.",
    ),
    783: (
        "ERROR_SHARING_NO_PRIVATE_LAN",
        "Internet Connection Sharing cannot be enabled.  The LAN connection selected as the "
        "private network is either not present, or is disconnected from the network.  Please "
        "ensure that the LAN adapter is connected before enabling Internet Connection Sharing.",
    ),
    784: (
        "ERROR_NO_DIFF_USER_AT_LOGON",
        "You cannot dial using this connection at logon time, because it is configured to use a "
        "user name different than the one on the smart card.  If you want to use it at logon time, "
        "you must configure it to use the user name on the smart card.",
    ),
    785: (
        "ERROR_NO_REG_CERT_AT_LOGON",
        "You cannot dial using this connection at logon time, because it is not configured to use "
        "a smart card.  If you want to use it at logon time, you must edit the properties of this "
        "connection so that it uses a smart card.",
    ),
    786: (
        "ERROR_OAKLEY_NO_CERT",
        "The connection attempt failed because there is no valid machine certificate on your "
        "computer for security authentication.",
    ),
    787: (
        "ERROR_OAKLEY_AUTH_FAIL",
        "The L2TP connection attempt failed because the security layer could not authenticate the "
        "remote computer.",
    ),
    788: (
        "ERROR_OAKLEY_ATTRIB_FAIL",
        "The L2TP connection attempt failed because the security layer could not negotiate "
        "compatible parameters with the remote computer.",
    ),
    789: (
        "ERROR_OAKLEY_GENERAL_PROCESSING",
        "The L2TP connection attempt failed because the security layer encountered a processing "
        "error during initial negotiations with the remote computer.",
    ),
    790: (
        "ERROR_OAKLEY_NO_PEER_CERT",
        "The L2TP connection attempt failed because certificate validation of the remote computer "
        "failed.",
    ),
    791: (
        "ERROR_OAKLEY_NO_POLICY",
        "The L2TP connection attempt failed because security policy for the connection was not "
        "found.",
    ),
    792: (
        "ERROR_OAKLEY_TIMED_OUT",
        "The L2TP connection attempt failed because security negotiation timed out.",
    ),
    793: (
        "ERROR_OAKLEY_ERROR",
        "The L2TP connection attempt failed because an error occurred while negotiating security.",
    ),
    794: (
        "ERROR_UNKNOWN_FRAMED_PROTOCOL",
        "The Framed Protocol RADIUS attribute for this user is not PPP.",
    ),
    795: (
        "ERROR_WRONG_TUNNEL_TYPE",
        "The remote connection request was denied because the VPN tunnel type being used is not "
        "allowed.",
    ),
    796: (
        "ERROR_UNKNOWN_SERVICE_TYPE",
        "The Service Type RADIUS attribute for this user is neither Framed nor Callback Framed.",
    ),
    797: (
        "ERROR_CONNECTING_DEVICE_NOT_FOUND",
        "A connection to the remote access server was not made because the modem was not found.",
    ),
    798: (
        "ERROR_NO_EAPTLS_CERTIFICATE",
        "A certificate could not be found that can be used with this Extensible Authentication "
        "Protocol.",
    ),
    799: (
        "ERROR_SHARING_HOST_ADDRESS_CONFLICT",
        "Internet Connection Sharing (ICS) cannot be enabled due to an IP address conflict on the "
        "network.  ICS requires the host be configured to use 192.168.137.1.  Please ensure that "
        "no other client on the network is configured to use 192.168.137.1.",
    ),
    800: (
        "ERROR_AUTOMATIC_VPN_FAILED",
        "The remote connection was not made because the attempted VPN tunnels failed. The VPN "
        "server might be unreachable. If this connection is attempting to use an L2TP/IPsec "
        "tunnel, the security parameters required for IPsec negotiation might not be configured "
        "properly.",
    ),
    801: (
        "ERROR_VALIDATING_SERVER_CERT",
        "This connection is configured to validate the identity of the access server, but Windows "
        "cannot verify the digital certificate sent by the server.",
    ),
    802: (
        "ERROR_READING_SCARD",
        "The card supplied was not recognized.  Please check that the card is inserted correctly, "
        "and fits tightly.",
    ),
    803: (
        "ERROR_INVALID_PEAP_COOKIE_CONFIG",
        "The PEAP configuration stored in the session cookie does not match the current session "
        "configuration.",
    ),
    804: (
        "ERROR_INVALID_PEAP_COOKIE_USER",
        "The PEAP identity stored in the session cookie does not match the current identity.",
    ),
    805: (
        "ERROR_INVALID_MSCHAPV2_CONFIG",
        "You cannot dial using this connection at logon time, because it is configured to use "
        "logged on user's credentials.",
    ),
    806: (
        "ERROR_VPN_GRE_BLOCKED",
        "The VPN connection between your computer and the VPN server could not be completed. The "
        "most common cause for this failure is that at least one Internet device (for example, a "
        "firewall or a router) between your computer and the VPN server is not configured to allow "
        "Generic Routing Encapsulation (GRE) protocol packets. If the problem persists, contact "
        "your network administrator or Internet Service Provider.",
    ),
    807: (
        "ERROR_VPN_DISCONNECT",
        "The network connection between your computer and the VPN server was interrupted.  This "
        "can be caused by a problem in the VPN transmission and is commonly the result of internet "
        "latency or simply that your VPN server has reached capacity.  Please try to reconnect to "
        "the VPN server.  If this problem persists, contact the VPN administrator and analyze "
        "quality of network connectivity.",
    ),
    808: (
        "ERROR_VPN_REFUSED",
        "The network connection between your computer and the VPN server could not be established "
        "because the remote server refused the connection. This is typically caused by a mismatch "
        "between the server's configuration and your connection settings. Please contact the "
        "remote server's Administrator to verify the server configuration and your connection "
        "settings.",
    ),
    809: (
        "ERROR_VPN_TIMEOUT",
        "The network connection between your computer and the VPN server could not be established "
        "because the remote server is not responding. This could be because one of the network "
        "devices (e.g, firewalls, NAT, routers, etc) between your computer and the remote server "
        "is not configured to allow VPN connections. Please contact your Administrator or your "
        "service provider to determine which device may be causing the problem.",
    ),
    810: (
        "ERROR_VPN_BAD_CERT",
        "A network connection between your computer and the VPN server was started, but the VPN "
        "connection was not completed. This is typically caused by the use of an incorrect or "
        "expired certificate for authentication between the client and the server. Please contact "
        "your Administrator to ensure that the certificate being used for authentication is valid.",
    ),
    811: (
        "ERROR_VPN_BAD_PSK",
        "The network conection between your computer and the VPN server could not be established "
        "because the remote server is not responding.  This is typically caused by a pre-shared "
        "key problem between the client and server.  A pre-shared key is used to guarantee you are "
        "who you say you are in an IP Security (IPSec) communication cycle.  Please get the "
        "assistance of your administrator to determine where the pre-shared key problem is "
        "originating.",
    ),
    812: (
        "ERROR_SERVER_POLICY",
        "The connection was prevented because of a policy configured on your RAS/VPN server. "
        "Specifically, the authentication method used by the server to verify your username and "
        "password may not match the authentication method configured in your connection profile. "
        "Please contact the Administrator of the RAS server and notify them of this error.",
    ),
    813: (
        "ERROR_BROADBAND_ACTIVE",
        "You have attempted to establish a second broadband connection while a previous broadband "
        "connection is already established using the same device or port. Please disconnect the "
        "earlier connection and then reestablish the connection.",
    ),
    814: (
        "ERROR_BROADBAND_NO_NIC",
        "The underlying Ethernet connectivity required for the broadband connection was not found. "
        "Please install and enable the Ethernet adapter on your computer via the Network "
        "Connections folder before attempting this connection.",
    ),
    815: (
        "ERROR_BROADBAND_TIMEOUT",
        "The broadband network conection could not be established on your computer because the "
        "remote server is not responding. This could be caused by an invalid value for the "
        "'Service Name' field for this connection. Please contact your Internet Service Provider "
        "and inquire about the correct value for this field and update it in the Connection "
        "Properties.",
    ),
    816: (
        "ERROR_FEATURE_DEPRECATED",
        "A feature or setting you have tried to enable is no longer supported by the remote access "
        "service.",
    ),
    817: ("ERROR_CANNOT_DELETE", "Cannot delete a connection while it is connected."),
    818: (  # obsolete
        "ERROR_RASQEC_RESOURCE_CREATION_FAILED",
        "The Network Access Protection (NAP) enforcement client could not create system resources "
        "for remote access connections. Some network services or resources might not be available. "
        "If the problem persists, disconnect and retry the remote access connection or contact the "
        "administrator for the remote access server.",
    ),
    819: (  # obsolete
        "ERROR_RASQEC_NAPAGENT_NOT_ENABLED",
        "The Network Access Protection Agent (NAPAgent) service has been disabled or is not "
        "installed on this computer. Some network services or resources might not be available. If "
        "the problem persists, disconnect and retry the remote access connection or contact the "
        "administrator for the remote access server.",
    ),
    820: (  # obsolete
        "ERROR_RASQEC_NAPAGENT_NOT_CONNECTED",
        "The Network Access Protection (NAP) enforcement client failed to register with the "
        "Network Access Protection Agent (NAPAgent) service. Some network services or resources "
        "might not be available. If the problem persists, disconnect and retry the remote access "
        "connection or contact the administrator for the remote access server.",
    ),
    821: (  # obsolete
        "ERROR_RASQEC_CONN_DOESNOTEXIST",
        "The Network Access Protection (NAP) enforcement client was unable to process the request "
        "because the remote access connection does not exist. Retry the remote access connection. "
        "If the problem persists, make sure that you can connect to the Internet, and then contact "
        "the administrator for the remote access server.",
    ),
    822: (  # obsolete
        "ERROR_RASQEC_TIMEOUT",
        "The Network Access Protection (NAP) enforcement client did not respond. Some network "
        "services or resources might not be available. If the problem persists, disconnect and "
        "retry the remote access connection or contact the administrator for the remote access "
        "server.",
    ),
    823: ("ERROR_PEAP_CRYPTOBINDING_INVALID", "Received Crypto-Binding TLV is invalid."),
    824: ("ERROR_PEAP_CRYPTOBINDING_NOTRECEIVED", "Crypto-Binding TLV is not received."),
    825: (
        "ERROR_INVALID_VPNSTRATEGY",
        "The remote connection was not made because Point-to-Point Tunneling Protocol (PPTP) is "
        "incompatible with IPv6. Use any other tunneling protocol. ",  # sic: trailing space
    ),
    826: (
        "ERROR_EAPTLS_CACHE_CREDENTIALS_INVALID",
        "EAPTLS validation of the cached credentials failed. Please discard\r\ncached credentials.",
    ),
    827: (
        "ERROR_IPSEC_SERVICE_STOPPED",
        "The VPN connection cannot be completed because the 'IKE and AuthIP IPSec Keying Modules' "
        "service and/or the 'Base Filtering Engine' service is not running. These services are "
        "required to establish the connection. Please ensure that these services have been started "
        "before dialing the connection.",
    ),
    828: ("ERROR_IDLE_TIMEOUT", "The connection was terminated because of idle timeout."),
    829: (
        "ERROR_LINK_FAILURE",
        "The modem (or other connecting device) was disconnected due to link failure.",
    ),
    830: ("ERROR_USER_LOGOFF", "The connection was terminated because user logged off."),
    831: ("ERROR_FAST_USER_SWITCH", "The connection was terminated because user switch happened."),
    832: ("ERROR_HIBERNATION", "The connection was terminated because of hibernation."),
    833: (
        "ERROR_SYSTEM_SUSPENDED",
        "The connection was terminated because the system got suspended.",
    ),
    834: (
        "ERROR_RASMAN_SERVICE_STOPPED",
        "The connection was terminated because Remote Access Connection manager stopped.",
    ),
    835: (
        "ERROR_INVALID_SERVER_CERT",
        "The L2TP connection attempt failed because the security layer could not authenticate the "
        "remote computer. This could be because one or more fields of the certificate presented by "
        "the remote server could not be validated as belonging to the target destination.",
    ),
    836: (
        "ERROR_NOT_NAP_CAPABLE",
        "The Network Access Protection (NAP) health state of the computer cannot be determined. "
        "Contact your administrator to verify that the NAP enforcement client is enabled, the NAP "
        "Agent service is running, and NAP is enforced in the Protected Extensible Authentication "
        "Protocol (PEAP) properties of the remote access connection.",
    ),
    837: ("ERROR_INVALID_TUNNELID", "Invalid Tunnel ID."),
    838: (
        "ERROR_UPDATECONNECTION_REQUEST_IN_PROCESS",
        "Another Update connection request is in progress. RAS allows only one Update Connection "
        "request at a time.",
    ),
    839: (
        "ERROR_PROTOCOL_ENGINE_DISABLED",
        "Negotiating using configured protocol is disable. Edit connection properties and select "
        "different protocol for negotiation and try again.",
    ),
    840: ("ERROR_INTERNAL_ADDRESS_FAILURE", "Internal address negotiation failed."),
    841: ("ERROR_FAILED_CP_REQUIRED", "Client has to request a Internal IPv4 or IPv6 address."),
    842: ("ERROR_TS_UNACCEPTABLE", "Traffic Selectors negotiation failed."),
    843: ("ERROR_MOBIKE_DISABLED", "Mobility is disabled for this connection."),
    844: (
        "ERROR_CANNOT_INITIATE_MOBIKE_UPDATE",
        "The VPN Connection is still connecting or reauthenticating because of Quarantine state "
        "change. Initiate mobike update only when connection state is 'Connected'.",
    ),
    845: (
        "ERROR_PEAP_SERVER_REJECTED_CLIENT_TLV",
        "Server rejected client authentication, due unexpected TLV or value mismatch for a TLV.",
    ),
    846: (
        "ERROR_INVALID_PREFERENCES",
        "Either VPN Destination preference is not selected by the user or it is no longer valid.",
    ),
    847: (
        "ERROR_EAPTLS_SCARD_CACHE_CREDENTIALS_INVALID",
        "Cached smart card credential is invalid.",
    ),
    848: (
        "ERROR_SSTP_COOKIE_SET_FAILURE",
        "VPN connection attempt failed due to internal error occurred while adding cookies to the "
        "Secure Socket Tunneling Protocol (SSTP). Please see the System Event Log for the detailed "
        "information.",
    ),
    849: (
        "ERROR_INVALID_PEAP_COOKIE_ATTRIBUTES",
        "The PEAP inner method attributes stored in the cookie is invalid",
    ),
    850: (
        "ERROR_EAP_METHOD_NOT_INSTALLED",
        "The Extensible Authentication Protocol type required for authentication of the remote "
        "access connection is not installed on your computer.",
    ),
    851: (
        "ERROR_EAP_METHOD_DOES_NOT_SUPPORT_SSO",
        "The Extensible Authentication Protocol type configured on the remote access connection "
        "does not support single sign-on.",
    ),
    852: (
        "ERROR_EAP_METHOD_OPERATION_NOT_SUPPORTED",
        "The Extensible Authentication Protocol type configured on the remote access connection "
        "does not support the requested operation.",
    ),
    853: (
        "ERROR_EAP_USER_CERT_INVALID",
        "The remote access connection completed, but authentication failed because the certificate "
        "that authenticates the client to the server is not valid. Ensure that the certificate "
        "used for authentication is valid.",
    ),
    854: (
        "ERROR_EAP_USER_CERT_EXPIRED",
        "The remote access connection completed, but authentication failed because the certificate "
        "that authenticates the client to the server is expired. Renew the certificate.",
    ),
    855: (
        "ERROR_EAP_USER_CERT_REVOKED",
        "The remote access connection completed, but authentication failed because the certificate "
        "that authenticates the client to the server is revoked.",
    ),
    856: (
        "ERROR_EAP_USER_CERT_OTHER_ERROR",
        "The remote access connection completed, but authentication failed because of an error in "
        "the certificate that authenticates the client to the server.",
    ),
    857: (
        "ERROR_EAP_SERVER_CERT_INVALID",
        "The remote access connection completed, but authentication failed because the certificate "
        "that the client uses to authenticate the server is not valid.",
    ),
    858: (
        "ERROR_EAP_SERVER_CERT_EXPIRED",
        "The remote access connection completed, but authentication failed because the certificate "
        "that the client uses to authenticate the server is expired.",
    ),
    859: (
        "ERROR_EAP_SERVER_CERT_REVOKED",
        "The remote access connection completed, but authentication failed because the certificate "
        "that the client uses to authenticate the server is revoked.",
    ),
    860: (
        "ERROR_EAP_SERVER_CERT_OTHER_ERROR",
        "The remote access connection completed, but authentication failed because of an error in "
        "the certificate that the client uses to authenticate the server.",
    ),
    861: (
        "ERROR_EAP_USER_ROOT_CERT_NOT_FOUND",
        "The remote access connection completed, but authentication failed because a trusted root "
        "certificate that validates the user certificate was not found in the Trusted Root "
        "Certification Authorities certificate store.",
    ),
    862: (
        "ERROR_EAP_USER_ROOT_CERT_INVALID",
        "The remote access connection completed, but authentication failed because the trusted "
        "root certificate that is used to validate the user certificate is not valid.",
    ),
    863: (
        "ERROR_EAP_USER_ROOT_CERT_EXPIRED",
        "The remote access connection completed, but authentication failed because the certificate "
        "in the Trusted Root Certification Authorities certificate store that authenticates the "
        "user certificate is expired. Renew the certificate.",
    ),
    864: (
        "ERROR_EAP_SERVER_ROOT_CERT_NOT_FOUND",
        "The remote access connection completed, but authentication failed because a certificate "
        "that validates the server certificate was not found in the Trusted Root Certification "
        "Authorities certificate store.",
    ),
    865: (
        "ERROR_EAP_SERVER_ROOT_CERT_INVALID",
        "The remote zccess connection completed, but authentication failed because the certificate "
        "in the Trusted Root Certification Authorities certificate store that validates the server "
        "certificate is not valid.",
    ),
    866: (
        "ERROR_EAP_SERVER_ROOT_CERT_NAME_REQUIRED",
        "The remote access connection completed, but authentication failed because the certificate "
        "on the server computer does not have a server name specified.",
    ),
    867: (
        "ERROR_PEAP_IDENTITY_MISMATCH",
        "The PEAP outer identity is not same as the inner identity when identity privacy is turned "
        "OFF.",
    ),
    868: (
        "ERROR_DNSNAME_NOT_RESOLVABLE",
        "The remote connection was not made because the name of the remote access server did not "
        "resolve.",
    ),
    869: ("ERROR_EAPTLS_PASSWD_INVALID", "Password provided for certificate is not valid."),
    870: (
        "ERROR_IKEV2_PSK_INTERFACE_ALREADY_EXISTS",
        "The Interface  could not be enabled as more than one interface with same destination has "
        "been created with authentication method as Pre Shared Key. Change the destination/auth "
        "method and enable the interface.",
    ),
    871: (
        "ERROR_INVALID_DESTINATION_IP",
        "The Interface could not be enabled as no valid destination is found for it. Ensure that a "
        "valid/resolvable destination IP is configured and try again.",
    ),
    872: ("ERROR_INVALID_INTERFACE_CONFIG", "The configuration for the interface is not valid"),
    873: ("ERROR_VPN_PLUGIN_GENERIC", "Couldn't connect to the VPN."),
    874: (
        "ERROR_SSO_CERT_MISSING",
        "Couldn't connect because we couldn't find a certificate for single sign-on. Please "
        "contact your support person.",
    ),
    875: (
        "ERROR_DEVICE_COMPLIANCE",
        "Couldn't connect because there was a problem with device compliance.",
    ),
    # Win32 codes past the RAS range that ras-api.md §5.2 lists (FormatMessage texts).
    1462: ("ERROR_INCORRECT_SIZE", "Incorrect size argument."),
    # IPsec IKE codes (winerror.h) an IKEv2 dial fails with, as Windows' rasdial prints them.
    13801: ("ERROR_IPSEC_IKE_AUTH_FAIL", "IKE authentication credentials are unacceptable"),
    13805: ("ERROR_IPSEC_IKE_TIMED_OUT", "Negotiation timed out"),
    13806: (
        "ERROR_IPSEC_IKE_NO_CERT",
        "IKE failed to find valid machine certificate. Contact your Network Security "
        "Administrator about installing a valid certificate in the appropriate Certificate "
        "Store.",
    ),
    13817: ("ERROR_IPSEC_IKE_CRL_FAILED", "Certificate Revocation Check failed"),
    13820: (
        "ERROR_IPSEC_IKE_NO_PRIVATE_KEY",
        "IKE negotiation failed because the machine certificate used does not have a private "
        "key. IPsec certificates require a private key. Contact your Network Security "
        "administrator about replacing with a certificate that has a private key.",
    ),
    13825: ("ERROR_IPSEC_IKE_NO_POLICY", "No policy configured"),
    13843: ("ERROR_IPSEC_IKE_INVALID_PAYLOAD", "Invalid payload received"),
    13868: ("ERROR_IPSEC_IKE_POLICY_MATCH", "Policy match error"),
    0x80070057: ("E_INVALIDARG", "The parameter is incorrect."),
}
