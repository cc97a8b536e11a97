"""QR versions and in-process timings of the credential format (no server, one core).

.venv/bin/python -m bench.credential_sizes
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from joserfc.jwk import ECKey

from app.credentials import format as fmt

ISSUER = "https://passeport.example-territoire.fr/t/973"
STRUCTURES = ("Médiathèque de Cayenne", "France Services Kourou")


def claims(n: int) -> dict[str, Any]:
    return fmt.build_claims(
        iss=ISSUER,
        sub="a" * 32,
        jti="j" * 16,
        iat=1_800_000_000,
        exp=1_831_536_000,
        skills=[
            fmt.SkillClaim(
                code=f"pp:PP-{i % 20 + 1:02d}",
                level=1 + i % 2,
                date=date(2026, 11, 1 + i % 20),
                structure=STRUCTURES[i % 2],
            )
            for i in range(n)
        ],
        fv={"pp": "1", "crcn": "2019"},
        status_uri=f"{ISSUER}/status/1",
        status_idx=12345,
    )


def median_ms(work: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        samples.append((time.perf_counter() - started) * 1000)
    return round(statistics.median(samples), 2)


def main() -> None:
    key = ECKey.generate_key("P-256", private=True)
    for n in (1, 6, 12, 20):
        text = fmt.jws_to_qr_text(fmt.sign(claims(n), key))
        jws = fmt.qr_text_to_jws(text)
        print(f"{n:2d} skills: JWS {len(jws)} characters, QR version {fmt.qr_version(text)} at Q")
    twelve = claims(12)
    text = fmt.jws_to_qr_text(fmt.sign(twelve, key))
    trust = {ISSUER: {fmt.key_id(key): key}}
    print("sign and encode, ms:", median_ms(lambda: fmt.jws_to_qr_text(fmt.sign(twelve, key)), 50))
    print("QR version from lengths, ms:", median_ms(lambda: fmt.qr_version(text), 50))
    print("QR PNG, ms:", median_ms(lambda: fmt.qr_png(text, box_size=8), 10))
    print("QR SVG, ms:", median_ms(lambda: fmt.qr_svg(text), 10))
    verify_ms = median_ms(
        lambda: fmt.verify(text, keys=trust, now=1_800_000_100, status=lambda u, i: False), 200
    )
    print("verify, ms:", verify_ms)


if __name__ == "__main__":
    main()
