"""A stand-in for $EDITOR: logs how it was called, applies $FAKE_EDITS, exits $FAKE_EDIT_EXIT."""

import json
import os
import sys

path = sys.argv[-1]
# surrogateescape: a legacy code page book's bytes go through unchanged
with open(path, encoding="utf-8", errors="surrogateescape", newline="") as f:
    text = f.read()
with open(os.environ["FAKE_EDIT_LOG"], "a", encoding="utf-8") as log:
    log.write(json.dumps({"argv": sys.argv[1:], "tty": os.isatty(0), "text": text}) + "\n")
edits = json.loads(os.environ.get("FAKE_EDITS", "[]"))
if edits:
    for old, new in edits:
        text = text.replace(old, new)
    with open(path, "w", encoding="utf-8", errors="surrogateescape", newline="") as f:
        f.write(text)
sys.exit(int(os.environ.get("FAKE_EDIT_EXIT", "0")))
