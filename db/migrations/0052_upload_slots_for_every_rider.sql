-- Every upload in its rider's slot, so the slot is the only lock the drain takes (issue 15,
-- throughput). 0051 left the uploads stored before it in slot 0, so a rider could have uploads
-- in two slots, and the drain kept a per-rider advisory lock a tap besides (~5 µs of the
-- database's CPU a tap, with its release at commit). Here they get their slot, read from the
-- payload as bayaffairs/transit/uploads.py `slot_of` reads it: the first byte of the account
-- token (byte 11 of an issuer or group code, byte 13 of a device code, type in byte 1) modulo
-- 16. Base45 (RFC 9285) puts bytes 2k and 2k+1 in characters 3k..3k+2 as c + 45 d + 2025 e =
-- 256 b(2k) + b(2k+1); every stored payload decoded at upload. upload_slot() stays for the
-- test that holds it to slot_of (tests/transit/test_drain_lanes.py).
CREATE FUNCTION upload_slot(payload text) RETURNS int
LANGUAGE sql IMMUTABLE STRICT AS $$
    SELECT (CASE WHEN v[1] % 256 = 2 THEN v[3] ELSE v[2] END % 256) % 16
    FROM (SELECT array_agg((strpos(a, substr(payload, 3 * k + 1, 1)) - 1)
                           + 45 * (strpos(a, substr(payload, 3 * k + 2, 1)) - 1)
                           + 2025 * (strpos(a, substr(payload, 3 * k + 3, 1)) - 1) ORDER BY k) AS v
          FROM (VALUES ('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:')) AS alphabet(a),
               unnest(ARRAY[0, 5, 6]) AS k) AS chunks
$$;

UPDATE tap_uploads SET slot = upload_slot(payload) WHERE state IN ('pending', 'waiting');
