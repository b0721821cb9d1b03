"""`python -m simulator`: the simulator without the cloud's CLI.

    python -m simulator [--host H] [--port P] [--script FILE] [--voice auto|espeak|tone]
                        [--response-delay-ms MS] [--generation-speed X] [--rtt-ms MS]
                        [--usage-log FILE]

The organisation key it accepts is OPENAI_API_KEY (required).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from pydantic import ValidationError

from simulator.responses import Pacing
from simulator.script import DEMO_SCRIPT, Script
from simulator.server import run
from simulator.voice import VoiceKind


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--script", type=Path, help="JSON conversation script (default: demo)")
    parser.add_argument("--voice", choices=[v.value for v in VoiceKind], default="auto")
    parser.add_argument(
        "--response-delay-ms",
        type=int,
        default=0,
        help="the model's time to first audio: before each response's first output (ms)",
    )
    parser.add_argument(
        "--generation-speed",
        type=float,
        default=0.0,
        help="audio seconds generated per second (0: as fast as possible)",
    )
    parser.add_argument(
        "--rtt-ms",
        type=float,
        default=0.0,
        help="network round trip between clients and the simulator (ms; new connections "
        "pay 2 more for TCP and TLS)",
    )
    parser.add_argument(
        "--usage-log",
        type=Path,
        help="append every usage the server reports (response.done, transcriptions) to FILE, "
        "one JSON line each",
    )
    args = parser.parse_args(argv)
    api_key = os.environ.get("OPENAI_API_KEY")
    if not api_key:
        parser.error("set OPENAI_API_KEY: the organisation key clients must present")
    try:
        script = Script.load(args.script) if args.script else DEMO_SCRIPT
    except (OSError, ValidationError) as exc:
        parser.error(f"cannot use the script {args.script}: {exc}")
    pacing = Pacing(
        response_delay_ms=args.response_delay_ms, generation_speed=args.generation_speed
    )
    run(
        args.host,
        args.port,
        api_key=api_key,
        script=script,
        voice=VoiceKind(args.voice),
        pacing=pacing,
        network_rtt_ms=args.rtt_ms,
        usage_log=args.usage_log,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
