"""python -m sandbox {api,sink,up,down,aws-seed}: see sandbox/README.md."""

from __future__ import annotations

import argparse
import os
import sqlite3
import sys
from pathlib import Path
from urllib.parse import urlsplit

EXIT_USAGE = 2
EXIT_FAILURE = 1


class UsageError(Exception):
    """Bad input: reported as `error: ...` with exit status 2, never as a traceback."""


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {value!r}") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 1-65535, got {port}")
    return port


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 <= seconds <= 3600:
        raise argparse.ArgumentTypeError(f"seconds must be between 0 and 3600, got {value}")
    return seconds


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {value!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Hybrid routing dev sandbox.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{api,sink,up,down,aws-seed}")

    api = sub.add_parser("api", help="run the admin API in the foreground on 127.0.0.1")
    api.add_argument("--port", type=_port, required=True, action="append",
                     help="port on 127.0.0.1; repeat it to serve one environment per port (state in STATE_DIR/PORT)")
    api.add_argument("--token", help="bearer token for /admin/* (default: $ADMIN_TOKEN)")
    api.add_argument("--state-dir", type=Path, required=True, help="directory of the SQLite state (created)")
    api.add_argument("--seed", type=Path, help="seed file applied to an empty state (default: sandbox/seed.yml)")
    api.add_argument("--faults", type=Path, help="YAML/JSON fault configuration, as PUT /_sandbox/faults")
    api.add_argument("--recover-after-seconds", type=_seconds, help="fault knob recover_after_seconds")
    api.add_argument("--routing-converge-seconds", type=_seconds, help="fault knob routing_converge_seconds")
    api.add_argument("--deploy-seconds", type=_seconds, help="fault knob deploy_seconds")
    api.add_argument("--cloudwatch-endpoint", type=_http_url,
                     help="publish the service's metrics (docs/metrics.md) to this CloudWatch endpoint, e.g. moto")
    api.add_argument("--aws-region", default="us-east-1", help="region of --cloudwatch-endpoint (default: %(default)s)")
    api.add_argument("--environment", default="sandbox",
                     help="value of the Environment dimension (default: %(default)s; with several ports, NAME-PORT)")
    api.add_argument("--metrics-interval", type=_seconds, default=10.0,
                     help="seconds between two publications of the metrics (default: %(default)s)")
    api.add_argument("--log-level", default="info", choices=["critical", "error", "warning", "info", "debug"])

    up = sub.add_parser("up", help="start the services of the sandbox inventory in the background")
    up.add_argument("--inventory", type=Path, default=Path("inventories/sandbox"), help="default: %(default)s")
    up.add_argument("--state-dir", type=Path, default=Path(".sandbox"), help="default: %(default)s")
    up.add_argument("--token", help="admin token (default: $ADMIN_TOKEN, else <state-dir>/admin_token)")

    sink = sub.add_parser("sink", help="run the notification sink (Slack, PagerDuty, status page, SMTP)")
    sink.add_argument("--port", type=_port, required=True, help="HTTP port on 127.0.0.1")
    sink.add_argument("--smtp-port", type=_port, help="SMTP port on 127.0.0.1 (STARTTLS required)")
    sink.add_argument("--smtp-username", help="require this SMTP login, with the password in $SINK_SMTP_PASSWORD")
    sink.add_argument("--state-dir", type=Path, required=True, help="where requests.jsonl and the certificate go")

    down = sub.add_parser("down", help="stop what `up` started")
    down.add_argument("--state-dir", type=Path, default=Path(".sandbox"), help="default: %(default)s")

    seed = sub.add_parser("aws-seed", help="create the IAM role and Lambda functions in moto (idempotent)")
    seed.add_argument(
        "--endpoint-url", type=_http_url, required=True, help="moto endpoint, e.g. http://127.0.0.1:18788"
    )
    seed.add_argument("--region", required=True, help="AWS region, e.g. eu-central-1")
    return parser


def cmd_api(args: argparse.Namespace) -> int:
    from .app import MetricsSettings, Settings, create_app
    from .faults import FaultConfig
    from .fileload import ConfigFileError, load_model_file
    from .seed import DEFAULT_SEED, load_seed
    from .server import bind_socket, serve, serve_many

    token = args.token or os.environ.get("ADMIN_TOKEN")
    if not token:
        raise UsageError("no admin token: pass --token or set ADMIN_TOKEN")
    try:
        seed = load_seed(args.seed or DEFAULT_SEED)
        faults = load_model_file(args.faults, FaultConfig, "faults") if args.faults else FaultConfig()
    except ConfigFileError as exc:
        raise UsageError(str(exc)) from exc
    overrides = {
        "recover_after_seconds": args.recover_after_seconds,
        "routing_converge_seconds": args.routing_converge_seconds,
        "deploy_seconds": args.deploy_seconds,
    }
    faults = faults.model_copy(update={key: value for key, value in overrides.items() if value is not None})

    apps = []
    for port in args.port:
        state_dir = args.state_dir if len(args.port) == 1 else args.state_dir / str(port)
        try:
            sock = bind_socket(port)
        except OSError as exc:
            for _app, bound in apps:
                bound.close()
            raise UsageError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}") from exc
        metrics = None
        if args.cloudwatch_endpoint:
            environment = args.environment if len(args.port) == 1 else f"{args.environment}-{port}"
            metrics = MetricsSettings(args.cloudwatch_endpoint, args.aws_region, environment,
                                      max(0.5, args.metrics_interval))
        try:
            app = create_app(Settings(token=token, state_dir=state_dir, seed=seed, faults=faults, metrics=metrics))
        except (OSError, sqlite3.Error) as exc:
            for _app, bound in [*apps, (None, sock)]:
                bound.close()
            raise UsageError(f"cannot use state dir {state_dir}: {getattr(exc, 'strerror', None) or exc}") from exc
        if not app.state.seeded_on_start and args.seed:
            print(f"state in {state_dir} already exists: seed {args.seed} not applied (POST /_sandbox/reset "
                  "applies it)", file=sys.stderr)
        apps.append((app, sock))
    if len(apps) == 1:
        serve(*apps[0], log_level=args.log_level)
    else:
        serve_many(apps, log_level=args.log_level)
    return 0


def cmd_up(args: argparse.Namespace) -> int:
    from .services import InventoryError, ServiceError, up

    try:
        up(args.inventory, args.state_dir, args.token or os.environ.get("ADMIN_TOKEN"))
    except InventoryError as exc:
        raise UsageError(str(exc)) from exc
    except ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    from .services import down

    down(args.state_dir)
    return 0


def cmd_sink(args: argparse.Namespace) -> int:
    from .sink import serve

    if args.smtp_username and not os.environ.get("SINK_SMTP_PASSWORD"):
        raise UsageError("--smtp-username needs the password in SINK_SMTP_PASSWORD")
    try:
        serve(args.port, args.smtp_port, args.state_dir, args.smtp_username)
    except OSError as exc:
        raise UsageError(f"cannot listen on 127.0.0.1: {exc.strerror or exc}") from exc
    return 0


def cmd_aws_seed(args: argparse.Namespace) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from .aws_seed import seed_aws

    try:
        seed_aws(args.endpoint_url, args.region)
    except (BotoCoreError, ClientError) as exc:
        print(f"error: seeding {args.endpoint_url} failed: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    return 0


COMMANDS = {"api": cmd_api, "sink": cmd_sink, "up": cmd_up, "down": cmd_down, "aws-seed": cmd_aws_seed}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except UsageError as exc:
        parser.exit(EXIT_USAGE, f"{parser.prog} {args.command}: error: {exc}\n")
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
