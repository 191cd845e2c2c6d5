"""List phonebook entries and connections, as rastest.py -l does (current pywin32 shapes).

usage: show.py [PHONEBOOK]
"""

import sys

import win32ras

phonebook = sys.argv[1] if len(sys.argv) > 1 else None
entries = win32ras.EnumEntries(None, phonebook)
print("entries type:", type(entries).__name__)
print("All phone-book entries:")
for name in entries:
    print(" ", name)
print("Current Connections:")
for con in win32ras.EnumConnections():
    print(" ", con[1], [type(x).__name__ for x in con])
