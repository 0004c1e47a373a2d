"""`bayaffairs gate simulate`: a QR image read with zxing-cpp and validated as a gate would."""

from __future__ import annotations

import json
import os
from pathlib import Path

from tests.commands import run_in_process
from tests.transit.conftest import Ride

METRO = "shenzhen_metro"


async def simulate(ride: Ride, image: Path, *extra: str) -> tuple[int, dict[str, object] | str]:
    gate = await ride.gate(METRO)
    assert gate.token is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("BAYAFFAIRS_")}
    result = await run_in_process(
        env,
        "gate",
        "simulate",
        str(image),
        "--api",
        str(ride.api.client.make_url("")),
        "--token",
        gate.token,
        "--station",
        ride.stops(METRO)[0],
        "--at",
        ride.clock.now().isoformat(),
        *extra,
    )
    text = result.stdout.strip()
    return result.status, json.loads(text) if result.status == 0 else result.stderr


async def code_image(ride: Ride, tmp_path: Path) -> Path:
    code = await ride.code("shenzhen")
    _, png = await ride.rider.get(code["png_url"])
    path = tmp_path / "code.png"
    path.write_bytes(png)
    return path


async def test_simulate_offline_opens_for_a_fresh_code(ride: Ride, tmp_path: Path) -> None:
    status, result = await simulate(ride, await code_image(ride, tmp_path), "--upload")
    assert status == 0, result
    assert isinstance(result, dict)
    assert (result["mode"], result["decision"]) == ("offline", "open")
    assert result["upload"] == {"accepted": 1, "duplicates": 0, "rejected": 0}


async def test_simulate_online_asks_the_service(ride: Ride, tmp_path: Path) -> None:
    status, result = await simulate(ride, await code_image(ride, tmp_path), "--online")
    assert status == 0 and isinstance(result, dict)
    assert (result["mode"], result["status"], result["decision"]) == ("online", 200, "open")


async def test_an_image_without_a_code_is_a_clear_error(ride: Ride, tmp_path: Path) -> None:
    from PIL import Image

    blank = tmp_path / "blank.png"
    Image.new("L", (200, 200), 255).save(blank)
    status, message = await simulate(ride, blank)
    assert status == 2 and "no QR code" in str(message)
