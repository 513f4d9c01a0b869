"""`blindfill approver`: run the approver service and pair browser sides.

`approver serve` listens on 127.0.0.1 (port 7355 by default) and answers
fill and pairing frames; decisions come from a policy file and the person
at this terminal. `approver pair` opens a one-time pairing offer: when a
`serve` runs for the same state directory it drives that server's pairing
desk through the loopback admin endpoints; otherwise it serves the pairing
endpoints itself until the browser side is paired, then exits.

The master password comes from `BLINDFILL_VAULT_PASSWORD`, from a prompt
that does not echo at start, or, with `--locked` (or without a terminal at
start), from this terminal when the first request arrives.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, TextIO

from blindfill.approver.admin import (
    AdminClient,
    Desk,
    StateDirLock,
    new_admin_token,
    read_server_info,
    remove_server_info,
    write_server_info,
)
from blindfill.approver.audit import AuditLog
from blindfill.approver.decisions import DecisionEngine, EngineConfig
from blindfill.approver.paths import (
    default_audit_path,
    default_policy_path,
    default_vault_path,
)
from blindfill.approver.policy import Policy
from blindfill.approver.prompt import FdLineReader, TerminalPrompt
from blindfill.approver.service import (
    ApproverService,
    StopPoint,
    running_service,
)
from blindfill.approver.service_pairing import Answer, DeskStatus, OfferView
from blindfill.approver.vault import PASSWORD_ENV, VaultAccess, detect_kind
from blindfill.errors import (
    ApproverUnreachableError,
    EnvironmentFault,
    ExitStatus,
    PairingError,
    StorageError,
    TimeoutFault,
    UsageError,
)
from blindfill.pairing_state import default_state_dir
from blindfill.sensitive import Secret
from blindfill.transport.protocol import DEFAULT_PORT
from blindfill.transport.server import is_loopback_host, serve_http

__all__ = ["STOP_AT_ENV", "register"]

# Freezes `serve` (SIGSTOP) at one step of every fill, for crash tests.
STOP_AT_ENV: Final = "BLINDFILL_DEBUG_STOP_AT"
_ANSWER_WAIT_S: Final = 110.0  # below the desk's confirmation timeout

_REMOTE_RISK = (
    "listening beyond loopback lets anyone who can reach this port send "
    "requests: frames stay end-to-end encrypted and only the paired browser "
    "side can fill, but strangers can try a pairing code while an offer is "
    "open (one guess burns it), fill the rate limits and this terminal with "
    "prompts, and learn that an approver runs here"
)


def register(subparsers: Any) -> None:
    """Add `blindfill approver ...` to the command line."""
    parser = subparsers.add_parser(
        "approver",
        help="run the approver service, pair browser sides",
        description=(
            "The approver holds the vault and decides every fill. `serve` "
            "answers the browser side over HTTP; `pair` pairs a browser side."
        ),
    )
    parser.set_defaults(handler=lambda _args: _usage(parser))
    commands = parser.add_subparsers(dest="approver_command", metavar="ACTION")

    serve = commands.add_parser(
        "serve",
        help="answer fill and pairing requests",
        description=(
            "Serve the approver's endpoints and decide each fill by policy or "
            "by asking at this terminal. Prints the URL on start. Stop with "
            "Ctrl-C or SIGTERM: waiting requests are declined and audited "
            f"first. The master password comes from {PASSWORD_ENV}, a prompt "
            "at start, or (with --locked) this terminal at the first request."
        ),
    )
    serve.add_argument(
        "--vault",
        type=Path,
        default=None,
        help=f"blindfill vault or KeePass .kdbx (default: {default_vault_path()})",
    )
    serve.add_argument(
        "--key-file", type=Path, default=None, help="KeePass key file, if it has one"
    )
    serve.add_argument(
        "--policy",
        type=Path,
        default=None,
        help=f"policy rules (default: {default_policy_path()}, if it exists)",
    )
    serve.add_argument(
        "--audit",
        type=Path,
        default=None,
        help=f"audit log (default: {default_audit_path()})",
    )
    _network_flags(serve)
    serve.add_argument(
        "--timeout",
        type=_positive,
        default=EngineConfig().decision_timeout,
        metavar="SECONDS",
        help="how long a request waits for a decision (default: 60)",
    )
    serve.add_argument(
        "--locked",
        action="store_true",
        help="start locked: requests wait until the master password is typed here",
    )
    serve.add_argument(
        "--no-prompt",
        action="store_true",
        help=f"decide by policy only, never ask (needs {PASSWORD_ENV})",
    )
    serve.add_argument(
        "--json", action="store_true", help="print events as JSON lines on stdout"
    )
    serve.set_defaults(handler=_serve)

    pair = commands.add_parser(
        "pair",
        help="pair a browser side (one-time token or code, 10 minutes)",
        description=(
            "Show a one-time pairing token and short code, wait for the "
            "browser side (`blindfill pair`), show its name and key "
            "fingerprint and ask you to confirm. A confirmed pairing replaces "
            "any earlier one. Uses the running `approver serve` of the same "
            "state directory, or serves pairing itself until done."
        ),
    )
    _network_flags(pair)
    pair.set_defaults(handler=_pair)


def _network_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help=f"pairing state directory (default: {default_state_dir()})",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)"
    )
    parser.add_argument(
        "--port",
        type=_port,
        default=DEFAULT_PORT,
        help=f"port to listen on; 0 picks a free one (default: {DEFAULT_PORT})",
    )
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a --host beyond loopback (read the warning it prints)",
    )
    parser.add_argument(
        "--name",
        default=None,
        help="the approver's name shown to the browser side (default: host name)",
    )


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return ExitStatus.USAGE


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError("a port is 0 to 65535")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError("give 1 to 3600 seconds")
    return value


def _check_host(args: argparse.Namespace) -> None:
    if is_loopback_host(args.host):
        return
    if not args.allow_remote:
        raise UsageError(
            f"refusing to listen on {args.host}, which is not loopback: "
            + _REMOTE_RISK,
            hint="use --host 127.0.0.1, or add --allow-remote if you accept this",
        )
    print(f"blindfill: warning: {_REMOTE_RISK}", file=sys.stderr)


def _state_dir(args: argparse.Namespace) -> Path:
    path: Path | None = args.state_dir
    return path if path is not None else default_state_dir()


# --- serve ------------------------------------------------------------------


def _serve(args: argparse.Namespace) -> int:
    _check_host(args)
    if args.no_prompt and args.locked:
        raise UsageError(
            "--locked needs a person to unlock, and --no-prompt rules that out",
            hint=f"drop --locked and set {PASSWORD_ENV}",
        )
    stop_at = _stop_point()
    return asyncio.run(_serve_async(args, stop_at))


def _stop_point() -> StopPoint | None:
    value = os.environ.get(STOP_AT_ENV)
    if not value:
        return None
    try:
        return StopPoint(value)
    except ValueError:
        choices = ", ".join(p.value for p in StopPoint)
        raise UsageError(f"{STOP_AT_ENV} must be one of {choices}") from None


async def _serve_async(args: argparse.Namespace, stop_at: StopPoint | None) -> int:
    state_dir = _state_dir(args)
    lock = StateDirLock(state_dir)
    if not lock.try_acquire():
        raise EnvironmentFault(
            f"another approver is already serving the state directory {state_dir}",
            code="approver_running",
            hint="stop it first, or give another --state-dir",
        )
    try:
        return await _serve_locked(args, state_dir, stop_at)
    finally:
        remove_server_info(state_dir)
        lock.release()


async def _serve_locked(
    args: argparse.Namespace, state_dir: Path, stop_at: StopPoint | None
) -> int:
    sink = _JsonSink(sys.stdout) if args.json else _HumanSink(sys.stdout)
    access = await _open_vault(args)
    audit = AuditLog(args.audit or default_audit_path())
    engine = DecisionEngine(
        vault=access,
        audit=audit,
        prompt=None if args.no_prompt else TerminalPrompt.on_stdio(),
        policy=_load_policy(args, state_dir),
        config=EngineConfig(decision_timeout=args.timeout),
    )
    token = new_admin_token()
    service = ApproverService(
        state_dir=state_dir,
        engine=engine,
        approver_name=args.name,
        admin_token=token,
        events=sink,
        stop_at=stop_at,
        audit=audit,
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        async with serve_http(service.app(), host=args.host, port=args.port) as bound:
            write_server_info(state_dir, bound.url, token)
            sink(
                "service.started",
                {
                    "url": bound.url,
                    "port": bound.port,
                    "locked": engine.locked,
                    "paired": service.pairing is not None,
                },
            )
            await stop.wait()
            await service.close()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
    sink("service.stopped", {})
    return ExitStatus.OK


async def _open_vault(args: argparse.Namespace) -> VaultAccess:
    path: Path = args.vault or default_vault_path()
    detect_kind(path)  # a clear error now for a missing or foreign file
    access = VaultAccess.for_path(path, key_file=args.key_file)
    if args.locked:
        return access
    if await access.unlock_from_env():
        return access
    if args.no_prompt:
        raise UsageError(
            f"--no-prompt needs the master password in {PASSWORD_ENV}",
            hint="or run without --no-prompt to type it",
        )
    if sys.stdin.isatty():
        password = await asyncio.to_thread(
            getpass.getpass, f"Master password for {path}: "
        )
        await access.unlock(Secret(password, kind="master_password"))
    # Without a terminal at start, the first request asks on standard input.
    return access


def _load_policy(args: argparse.Namespace, state_dir: Path) -> Policy | None:
    path: Path | None = args.policy
    if path is None:
        path = default_policy_path()
        if not path.exists():
            return None
    return Policy.load(path, state_path=state_dir / "policy-uses.json")


class _JsonSink:
    """Service events as one JSON object a line, for scripts."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def __call__(self, name: str, fields: dict[str, Any]) -> None:
        line = {"time": _now(), "event": name, **fields}
        self._out.write(json.dumps(line, sort_keys=True, default=str) + "\n")
        self._out.flush()


class _HumanSink:
    """The few service events a person watching the terminal wants."""

    def __init__(self, out: TextIO) -> None:
        self._out = out

    def __call__(self, name: str, fields: dict[str, Any]) -> None:
        text = self._describe(name, fields)
        if text is not None:
            self._out.write(f"{datetime.now().strftime('%H:%M:%S')}  {text}\n")
            self._out.flush()

    @staticmethod
    def _describe(name: str, fields: dict[str, Any]) -> str | None:
        if name == "service.started":
            lines = [f"blindfill approver listening on {fields['url']}"]
            if fields.get("locked"):
                lines.append(
                    "          locked: requests wait until the master password "
                    "is typed here"
                )
            if not fields.get("paired"):
                lines.append(
                    "          not paired yet: run `blindfill approver pair` "
                    "in another terminal"
                )
            return "\n".join(lines)
        template = _HUMAN_EVENTS.get(name)
        return None if template is None else template.format_map(_Blank(fields))


class _Blank(dict[str, Any]):
    # Formats a missing field as "?" instead of failing.
    def __missing__(self, key: str) -> str:
        return "?"


_HUMAN_EVENTS: Final = {
    "fill.answered": "fill for {origin}: {outcome}",
    "device.unknown": "refused a request from an unknown or replaced device",
    "pairing.confirmed": "paired with agent {agent_name!r}",
    "service.stopping": "stopping: declining requests still waiting",
    "service.stopped": "stopped",
}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


# --- pair -------------------------------------------------------------------


def _pair(args: argparse.Namespace) -> int:
    return asyncio.run(_pair_async(args))


async def _pair_async(args: argparse.Namespace) -> int:
    state_dir = _state_dir(args)
    lock = StateDirLock(state_dir)
    if not lock.try_acquire():
        # A server runs for this state directory: use its pairing desk.
        try:
            info = read_server_info(state_dir)
        except StorageError as exc:
            raise EnvironmentFault(
                f"another blindfill process holds {state_dir} but publishes no "
                "admin endpoint (another `approver pair`, or a server starting)",
                code="approver_running",
                hint="finish or stop that process and try again",
            ) from exc
        client = AdminClient(info)
        try:
            return await _dialogue(client, info.url)
        except ApproverUnreachableError as exc:
            raise ApproverUnreachableError(
                f"the approver serving {state_dir} does not answer at {info.url}",
                hint="restart `blindfill approver serve`",
            ) from exc
        finally:
            await client.aclose()

    try:
        _check_host(args)
        service = ApproverService(
            state_dir=state_dir, engine=None, approver_name=args.name
        )
        async with running_service(service, host=args.host, port=args.port) as run:
            print(
                f"No approver is running for {state_dir}; serving pairing at "
                f"{run.url} until a browser side is paired."
            )
            return await _dialogue(service.desk, run.url)
    finally:
        lock.release()


async def _dialogue(desk: Desk, url: str) -> int:
    """Offer, wait, show, ask, answer: the person's side of pairing."""
    ticket = await desk.open_offer()
    minutes = ticket.expires_in / 60
    print(
        f"\nPairing offer, one-time, valid for {minutes:.0f} minutes:\n"
        f"  token  {ticket.token.reveal()}\n"
        f"  code   {ticket.code.reveal()}\n\n"
        "On the browser side run, with the token in the environment:\n"
        f"  BLINDFILL_PAIRING_TOKEN=... blindfill pair --approver {url} "
        "--name NAME\n"
        "or run it without the variable and type the code when asked.\n"
        "Waiting for the browser side...",
        flush=True,
    )
    try:
        view = await _wait_for_browser(desk, ticket.offer_id)
        if view.status is DeskStatus.CONFIRMING:
            view = await _confirm(desk, view)
    except (asyncio.CancelledError, KeyboardInterrupt):
        with contextlib.suppress(Exception):
            await desk.answer(ticket.offer_id, Answer.CANCEL)
        raise
    return _report(view)


async def _wait_for_browser(desk: Desk, offer_id: str) -> OfferView:
    view = await desk.wait_change(offer_id, since=None, wait_s=0)
    while not view.status.final and view.status is not DeskStatus.CONFIRMING:
        previous = view.status
        view = await desk.wait_change(offer_id, since=previous, wait_s=20)
        if view.status is DeskStatus.HANDSHAKE and previous is DeskStatus.WAITING:
            print("A browser side connected; finishing the handshake...", flush=True)
    return view


async def _confirm(desk: Desk, view: OfferView) -> OfferView:
    print(
        "\nA browser side asks to pair:\n"
        f"  agent        {view.agent_name!r}\n"
        f"  fingerprint  {view.fingerprint}\n"
        "Check that the browser side shows the same fingerprint.",
        flush=True,
    )
    reader = FdLineReader(sys.stdin.fileno())
    if reader.is_tty:
        reader.discard_pending()  # a keystroke typed earlier must not answer
    print("Pair with this agent? It replaces any earlier pairing. [y/N] ", end="")
    sys.stdout.flush()
    try:
        async with asyncio.timeout(_ANSWER_WAIT_S):
            line = await reader.readline()
    except TimeoutError:
        line = None
        print("\n(no answer in time)")
    accepted = line is not None and line.strip().lower() in ("y", "yes")
    return await desk.answer(
        view.offer_id, Answer.CONFIRM if accepted else Answer.REJECT
    )


def _report(view: OfferView) -> int:
    status = view.status
    if status is DeskStatus.PAIRED:
        print(
            f"Paired with agent {view.agent_name!r} (fingerprint {view.fingerprint}). "
            "Any earlier pairing is replaced."
        )
        return ExitStatus.OK
    if status is DeskStatus.REJECTED:
        print(f"Pairing rejected ({view.detail or 'not confirmed'}).")
        return ExitStatus.FAILED
    if status is DeskStatus.FAILED:
        raise PairingError(
            f"pairing failed: {view.detail}",
            hint="run `blindfill approver pair` again for a new offer",
        )
    if status is DeskStatus.EXPIRED:
        raise TimeoutFault(
            "no browser side finished pairing before the offer expired",
            hint="run `blindfill approver pair` again for a new offer",
        )
    raise PairingError(
        f"the offer ended: {view.detail or status.value}", code="pairing_cancelled"
    )
