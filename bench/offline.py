"""Offline validation in the gate library, one core, in process: `python -m bench.offline`.

A gate without network runs `OfflineGate.validate` on every code shown to it, so its rate is
bounded by ECDSA P-256 verification (one per issuer code, two per device code). This module
measures codes/s through `validate` on fresh codes (each validated once: a replay is a cheaper
deny) against the raw `cryptography` verify rate, measured in the same run on the same core,
in interleaved rounds so the machine's drift hits both alike. The aim is 80% of the raw rate.

Below the aim, the breakdown says where the rest goes: Base45 decoding (table-driven, in
`bayaffairs.transit.codes.base45`), the layout parse, converting the raw r||s signature to DER
for `cryptography`, the time and scope checks, and the gate's own bookkeeping (deny lists,
replay memory, the upload queue).

The gate keeps its memory in a SQLite file (`bayaffairs.gate.store`): the rounds run it without
fsync, so they time the CPU (the bookkeeping now includes one SQLite transaction per decision);
one more line times the gate as it runs, with the WAL fsync-ed before each `open`, which depends
on the disk more than on the code.

No server, database or network: the issuer key is made here and handed to the gate as the
`GET /v1/gate/keys` document, exactly as `GateClient` would install it.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from bayaffairs.gate.offline import OfflineGate
from bayaffairs.gate.store import GateStore
from bayaffairs.transit.codes import base45
from bayaffairs.transit.codes import format as fmt
from bayaffairs.transit.codes.signatures import compressed, sign, verify
from bayaffairs.transit.codes.verify import Policy, check
from bench.transit import Issuer, in_parallel, mint_issuer_codes, verify_rate

AIM = 0.80
SCOPE = 4  # Shenzhen's scope code; the gate stands there and the codes are for it
PHONES = 1000  # device credentials behind the device codes (fewer than the gate's key cache)
EXPECTED_RATE = 12_000  # codes/s minted per second measured, per round (more than validate reaches)


def new_issuer() -> Issuer:
    key = ec.generate_private_key(ec.SECP256R1())
    der = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return Issuer(key_number=1, private_der=der, scope=SCOPE, valid_for=Policy().code_seconds)


def keys_document(issuer: Issuer) -> dict[str, Any]:
    """What `GET /v1/gate/keys` answers for this issuer (the gate installs it with apply_keys)."""
    public = (
        issuer.private_key()
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    policy = Policy()
    return {
        "keys": [
            {
                "kid": f"ride_codes-{issuer.key_number}",
                "key_number": issuer.key_number,
                "algorithm": "ES256",
                "public_key": base64.b64encode(public).decode(),
            }
        ],
        "policy": {"code_seconds": policy.code_seconds, "skew_seconds": policy.skew_seconds, "scope": SCOPE},
        "rules": {
            "operator": "shenzhen_bus",
            "tap_out": False,
            "max_journey_minutes": 240,
            "tap_out_without_tap_in": "max_fare",
            "max_stale_hours": 24,
            "stale_policy": "deny",
        },
    }


SCRATCH = tempfile.TemporaryDirectory(prefix="bench-gate-")


def bus_gate(document: dict[str, Any], durable: bool = False) -> OfflineGate:
    """A tap-in-only gate (a bus) with a memory of its own (a new file, without fsync: this
    measures the CPU; a durable gate adds one WAL fsync per open): every fresh code opens, so
    each call does the whole path."""
    store = GateStore(Path(tempfile.mkstemp(suffix=".sqlite3", dir=SCRATCH.name)[1]), durable=durable)
    gate = OfflineGate(gate_id="bench-gate", station="1", store=store)
    gate.apply_keys(document)
    gate.apply_denylist({"changes": [], "next_cursor": 0, "complete": True})
    return gate


def _device_chunk(issuer: Issuer, now: int, jobs: Sequence[tuple[int, int]]) -> list[str]:
    """Device codes for (phone, counter) jobs: each phone has a credential signed by the issuer
    and signs its own code part, as the app does offline. Phones are derived from their number
    so every chunk (worker) makes the same credentials."""
    issuer_key = issuer.private_key()
    phones: dict[int, tuple[ec.EllipticCurvePrivateKey, bytes]] = {}
    out = []
    for phone, counter in jobs:
        if phone not in phones:
            device = ec.derive_private_key(phone + 1, ec.SECP256R1())
            body = fmt.credential_body(
                issuer.key_number,
                now - 3600,
                now + 24 * 3600,
                issuer.scope,
                phone.to_bytes(8, "big"),
                (phone + 10**9).to_bytes(8, "big"),
                compressed(device.public_key()),
            )
            phones[phone] = (device, body + sign(issuer_key, body))
        device, credential = phones[phone]
        signed = credential + fmt.dynamic_part(now, counter)
        out.append(base45.encode(signed + sign(device, signed)))
    return out


def device_codes(issuer: Issuer, count: int, first_counter: int) -> list[str]:
    now = int(time.time())
    jobs = [(i % PHONES, first_counter + i) for i in range(count)]
    return in_parallel(_device_chunk, (issuer, now), jobs)


def issuer_codes(issuer: Issuer, count: int) -> list[str]:
    return mint_issuer_codes(issuer, [os.urandom(8) for _ in range(count)], int(time.time()))


GATE_MEMORY = 1000  # codes one gate validates before a new one takes over (see validate_rate)


def validate_rate(
    document: dict[str, Any], codes: Sequence[str], seconds: float, durable: bool = False
) -> tuple[float, int]:
    """Codes/s through validate(), each code once, for `seconds` or until the codes run out;
    also returns how many did not open (must be 0: a deny would be cheaper).

    A gate remembers codes for code_seconds + 2 x skew (660 s), a few hundred at a busy gate,
    and rebuilds that memory every 1024 codes; one gate fed tens of thousands of codes a second
    would pay for a memory no real gate has. So a new gate takes over every GATE_MEMORY codes.
    """
    gate = bus_gate(document, durable)
    denied = 0
    done = 0
    started = time.perf_counter()
    deadline = started + seconds
    for payload in codes:
        if gate.validate(payload, "in").decision != "open":
            denied += 1
        done += 1
        if done % GATE_MEMORY == 0:
            gate = bus_gate(document, durable)
            if time.perf_counter() >= deadline:
                break
    elapsed = time.perf_counter() - started
    if done == len(codes):
        print(f"bench.offline: warning: all {done} codes used before {seconds} s passed", file=sys.stderr)
    return done / elapsed, denied


def _per_call_us(call: Callable[[Any], object], items: Sequence[Any], repeat: int = 5) -> float:
    """Best of `repeat` passes over `items`, in µs per item (stateless calls only)."""
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for item in items:
            call(item)
        best = min(best, time.perf_counter() - started)
    return best / len(items) * 1e6


def _validate_us(document: dict[str, Any], codes: Sequence[str], repeat: int = 5) -> float:
    """Best of `repeat` passes of validate(), new gates each pass (every code is fresh to its
    gate; a new gate every GATE_MEMORY codes, as in validate_rate)."""
    best = float("inf")
    for _ in range(repeat):
        gates = [bus_gate(document) for _ in range(0, len(codes), GATE_MEMORY)]
        started = time.perf_counter()
        for index, payload in enumerate(codes):
            gates[index // GATE_MEMORY].validate(payload, "in")
        best = min(best, time.perf_counter() - started)
    return best / len(codes) * 1e6


def breakdown(issuer: Issuer, codes: Sequence[str], document: dict[str, Any]) -> dict[str, float]:
    """µs per issuer code for each step of validate(), all on the same 3000 codes, best of 5
    passes each, so the steps add up (the rounds' rates are medians of longer, noisier runs)."""
    sample = list(codes[:3000])
    raw = [base45.decode(c) for c in sample]
    parsed = [fmt.parse(r) for r in raw]
    assert all(isinstance(p, fmt.IssuerCode) for p in parsed)
    gate = bus_gate(document)
    keyset, policy = gate.keys, gate.policy
    public = keyset.by_number[issuer.key_number].public_key
    algorithm = ec.ECDSA(hashes.SHA256())
    ders = [
        (
            encode_dss_signature(
                int.from_bytes(p.signature[:32], "big"), int.from_bytes(p.signature[32:], "big")
            ),
            p.signed,
        )
        for p in parsed
    ]
    now = int(time.time())
    steps = {
        "ecdsa_verify_der": _per_call_us(lambda d: public.verify(d[0], d[1], algorithm), ders),
        "base45_decode": _per_call_us(base45.decode, sample),
        "layout_parse": _per_call_us(fmt.parse, raw),
        "der_conversion": _per_call_us(
            lambda p: encode_dss_signature(
                int.from_bytes(p.signature[:32], "big"), int.from_bytes(p.signature[32:], "big")
            ),
            parsed,
        ),
        "signatures_verify": _per_call_us(lambda p: verify(public, p.signature, p.signed), parsed),
        "check_total": _per_call_us(
            lambda c: check(c, now=now, keys=keyset, scope=SCOPE, policy=policy, device_keys=None), sample
        ),
        "validate_total": _validate_us(document, sample),
    }
    return steps


@dataclass
class Round:
    raw_verify: float
    issuer_validate: float
    device_validate: float
    denied: int


def measure(seconds: float, rounds: int, cpu: int | None = None) -> dict[str, Any]:
    """Mint (on every CPU), then time in interleaved rounds, pinned to `cpu` if given."""
    issuer = new_issuer()
    document = keys_document(issuer)
    per_round = int(EXPECTED_RATE * seconds) + 1000
    print(f"bench.offline: minting {per_round * rounds:,} issuer and device codes", file=sys.stderr)
    issuer_sets = [issuer_codes(issuer, per_round) for _ in range(rounds)]
    device_sets = [device_codes(issuer, per_round // 2, r * per_round) for r in range(rounds)]
    original = os.sched_getaffinity(0)
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    try:
        return _timed(issuer, document, issuer_sets, device_sets, seconds)
    finally:
        os.sched_setaffinity(0, original)


def _timed(
    issuer: Issuer,
    document: dict[str, Any],
    issuer_sets: list[list[str]],
    device_sets: list[list[str]],
    seconds: float,
) -> dict[str, Any]:
    results = []
    for r in range(len(issuer_sets)):
        raw = verify_rate(seconds, issuer)
        issuer_rate, denied_i = validate_rate(document, issuer_sets[r], seconds)
        device_rate, denied_d = validate_rate(document, device_sets[r], seconds)
        results.append(Round(raw, issuer_rate, device_rate, denied_i + denied_d))
        print(
            f"bench.offline: round {r + 1}: raw verify {raw:,.0f}/s, validate() on issuer codes "
            f"{issuer_rate:,.0f}/s, on device codes {device_rate:,.0f}/s",
            file=sys.stderr,
        )
    raw = statistics.median(x.raw_verify for x in results)
    issuer_rate = statistics.median(x.issuer_validate for x in results)
    device_rate = statistics.median(x.device_validate for x in results)
    steps = breakdown(issuer, issuer_sets[0], document)
    durable_rate, _ = validate_rate(document, issuer_sets[0], seconds, durable=True)
    return {
        "validate_issuer_codes_durable_per_s": durable_rate,
        "raw_verify_per_s": raw,
        "validate_issuer_codes_per_s": issuer_rate,
        "ratio_issuer": issuer_rate / raw,
        "validate_device_codes_per_s": device_rate,
        "ratio_device_vs_half_raw": device_rate / (raw / 2),
        "denied": sum(x.denied for x in results),
        "rounds": [x.__dict__ for x in results],
        "breakdown_us_per_issuer_code": steps,
        "validate_us_per_issuer_code": 1e6 / issuer_rate,
        "raw_verify_us": 1e6 / raw,
    }


def render(result: dict[str, Any], command: str) -> str:
    steps = result["breakdown_us_per_issuer_code"]
    raw_us = result["raw_verify_us"]
    total_us = result["validate_us_per_issuer_code"]
    ratio = result["ratio_issuer"]
    durable = result["validate_issuer_codes_durable_per_s"]
    lines = [
        f"bench.offline: OfflineGate.validate, one core, in process; Python {platform.python_version()}, "
        f"{os.cpu_count()} CPUs (shared with whatever else runs: compare the ratios, not the rates)",
        "",
        f"{'measure':44} {'per second':>11} {'µs each':>8} {'vs raw verify':>14}",
        f"{'raw cryptography ECDSA P-256 verify (DER)':44} {result['raw_verify_per_s']:>11,.0f} "
        f"{raw_us:>8.1f} {'1.00x':>14}",
        f"{'validate(), issuer codes (1 verify each)':44} {result['validate_issuer_codes_per_s']:>11,.0f} "
        f"{total_us:>8.1f} {ratio:>13.2f}x",
        f"{'validate(), device codes (2 verifies each)':44} {result['validate_device_codes_per_s']:>11,.0f} "
        f"{1e6 / result['validate_device_codes_per_s']:>8.1f} {result['ratio_device_vs_half_raw']:>13.2f}x"
        "  (vs half the raw rate)",
        f"{'validate(), issuer codes, fsync per open':44} {durable:>11,.0f} {1e6 / durable:>8.1f} "
        f"{durable / result['raw_verify_per_s']:>13.2f}x  (the gate as it runs: durable)",
        "",
        f"aim: issuer codes at >= {AIM:.0%} of the raw verify rate: "
        + ("met" if ratio >= AIM else f"MISSED ({ratio:.0%})")
        + (f"; {result['denied']} codes did not open (CHECK)" if result["denied"] else "; every code opened"),
        "",
        "where one issuer code's time goes (µs, best of 5 passes over the same 3000 codes):",
    ]
    verify_us, total = steps["ecdsa_verify_der"], steps["validate_total"]
    signatures = steps["signatures_verify"]
    parts = [
        ("Base45 decode (table-driven)", steps["base45_decode"]),
        ("layout parse (struct + dataclass)", steps["layout_parse"]),
        ("raw r||s -> DER for cryptography", steps["der_conversion"]),
        ("ECDSA verify itself", verify_us),
        ("rest of signatures.verify (isinstance, try)", signatures - steps["der_conversion"] - verify_us),
        (
            "rest of check(): key lookup, time, scope",
            steps["check_total"] - steps["base45_decode"] - steps["layout_parse"] - signatures,
        ),
        ("gate bookkeeping: now(), deny lists, replays, queue", total - steps["check_total"]),
    ]
    lines += [f"  {name:52} {us:6.1f}  ({us / total:4.0%})" for name, us in parts]
    lines += [
        f"  {'validate() in total':52} {total:6.1f}  (here {verify_us / total:.0%} of raw verify)",
        "",
        f"Reproduce: {command}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.offline", description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=2.0, help="seconds per measurement (default 2)")
    p.add_argument(
        "--rounds", type=int, default=3, help="interleaved rounds; medians are reported (default 3)"
    )
    p.add_argument("--cpu", type=int, help="pin the measurement to this CPU (after minting, which uses all)")
    p.add_argument("--json", type=Path, metavar="PATH", help="also write the results as JSON")
    args = p.parse_args(argv)
    if args.seconds <= 0 or args.rounds < 1:
        p.error("--seconds must be positive and --rounds at least 1")
    command = (
        f"{Path(sys.executable).name} -m bench.offline --seconds {args.seconds:g} --rounds {args.rounds}"
    )
    if args.cpu is not None:
        command += f" --cpu {args.cpu}"
    result = measure(args.seconds, args.rounds, args.cpu)
    print(render(result, command))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({**result, "command": command}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
