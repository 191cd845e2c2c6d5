"""The wire rows' cache: a row is encoded once per change, and both shapes say what the
record says."""

from __future__ import annotations

import msgspec

from openras.manager.rows import RASCONN_FIELDS, RowCache, record
from openras.manager.table import Conn, Phase
from openras.rasapi import RASCF_AllUsers, RASCF_OwnerMatch, _rasconn
from openras.states import RasConnState


def _conn(handle: int = 7, **kw: object) -> Conn:
    conn = Conn(handle, 1000, "k", "Office", "/home/u/rasphone.pbk", "", "vpn", "tun0", "openvpn")
    for k, v in kw.items():
        setattr(conn, k, v)
    return conn


def test_full_row_is_the_record_and_follows_every_change() -> None:
    cache, conn = RowCache(), _conn(created=12.5)
    first = cache.full(conn, None)
    assert msgspec.json.decode(first) == record(conn)
    assert cache.full(conn, None) is first  # unchanged: the same encoded bytes
    conn.phase, conn.state, conn.connected_at = Phase.CONNECTED, RasConnState.Connected, 13.0
    after = cache.full(conn, None)
    assert after is not first
    assert msgspec.json.decode(after)["state"] == int(RasConnState.Connected)
    conn.detail = "TLS handshake failed"
    assert msgspec.json.decode(cache.full(conn, None))["detail"] == "TLS handshake failed"


def test_rasconn_row_has_the_records_fields_in_order() -> None:
    cache, conn = RowCache(), _conn(all_users=True)
    row = msgspec.json.decode(cache.rasconn(conn, None))
    rec = record(conn)
    assert len(row) == len(RASCONN_FIELDS)
    assert dict(zip(RASCONN_FIELDS, row, strict=True))["correlation_id"] == rec["correlation_id"]
    assert row[0] == 7 and row[1] == "Office" and row[4] == "/home/u/rasphone.pbk"
    conn.all_users = False  # a change reaches the RASCONN row too
    assert msgspec.json.decode(cache.rasconn(conn, None))[6] is False
    conn.all_users = True
    made = _rasconn(msgspec.json.decode(cache.rasconn(conn, None)), 1000)
    assert made.hrasconn == 7 and made.szEntryName == "Office"
    assert made.dwFlags & RASCF_OwnerMatch and made.dwFlags & RASCF_AllUsers
    assert made.guidCorrelationId == rec["correlation_id"] and made.szOpenRasDriver == "openvpn"


def test_rasconn_row_falls_back_to_the_drivers_device_names() -> None:
    conn = _conn(device_type="", device_name="")
    conn.device_type, conn.device_name = "vpn", "orw3"
    row = msgspec.json.decode(RowCache().rasconn(conn, None))
    rec = record(conn)
    assert row[2] == (rec["ras_device_type"] or "vpn")
    assert row[3] == (rec["ras_device_name"] or "orw3")


def test_prune_forgets_rows_gone_from_the_table() -> None:
    cache = RowCache()
    for h in range(5):
        cache.full(_conn(h), None)
    cache.prune({3: None, 4: None})
    assert len(cache) == 2
