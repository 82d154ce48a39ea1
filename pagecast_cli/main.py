"""The `pagecast` command: documents to audio on this machine, and a client of a Pagecast server.

    pagecast convert book.pdf              # one MP3 per page, timings, a playlist
    pagecast convert book.pdf --format m4b # ... and one audiobook with chapters
    pagecast voices                        # the voices this machine has
    pagecast serve                         # what `make run` runs
    pagecast login URL / upload FILE / listen DOC

Conventions: `--help` on every command, `--version`, `-q` (errors only) and `-v` (more detail,
`-vv` for debugging), progress on stderr when it is a terminal, results on stdout, `NO_COLOR`
honoured. A failure is one line on stderr starting with `pagecast: error:` and a non-zero exit
code: 1 when the work failed, 2 for a mistake in the command line, 130 when interrupted.
"""

from __future__ import annotations

import enum
import getpass
import logging
import sys
import traceback
import warnings
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from typer.core import TyperGroup

from pagecast_cli import client
from pagecast_cli import convert as conversion
from pagecast_cli.audiobook import AudiobookError
from pagecast_cli.bootstrap import SettingsError, setup_django
from pagecast_cli.files import OutputError, check_folder, describe_os_error, write_atomic

EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
# Failures we can explain in one sentence; anything else is a bug, reported as such.
EXPECTED_ERRORS = (
    conversion.ConvertError,
    client.ClientError,
    AudiobookError,
    OutputError,
    SettingsError,
)


def program_version() -> str:
    try:
        return version("pagecast")
    except PackageNotFoundError:  # running from a checkout that was never installed
        return "unknown"


# --- Output ------------------------------------------------------------------------------------


class Ui:
    """Where the command speaks: results on stdout, progress and messages on stderr."""

    verbosity = 0  # of the command being run: -1 quiet, 0 normal, 1+ verbose

    def __init__(self, verbosity: int) -> None:
        Ui.verbosity = verbosity
        # Soft wrap: a message is one line however narrow the terminal, so it can be grepped.
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        _configure_logging(self.err, verbosity)

    @property
    def quiet(self) -> bool:
        return self.verbosity < 0

    @property
    def verbose(self) -> bool:
        return self.verbosity > 0

    def say(self, message: str | Text) -> None:
        if not self.quiet:
            self.out.print(message)

    def note(self, message: str) -> None:
        if self.verbose:
            self.err.print(Text(f"pagecast: {message}", style="dim"))

    def warn(self, message: str) -> None:
        if not self.quiet:
            self.err.print(Text.assemble("pagecast: ", ("warning: ", "yellow"), message))


def print_error(message: str) -> None:
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(Text.assemble("pagecast: ", ("error: ", "bold red"), " ".join(message.split())))


class _LogHandler(logging.Handler):
    """The library's log lines, one per record; tracebacks only when asked for with -v."""

    def __init__(self, console: Console, *, tracebacks: bool) -> None:
        super().__init__()
        self.console = console
        self.tracebacks = tracebacks

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = f"pagecast: {record.levelname.lower()}: {record.getMessage()}"
            if record.exc_info and self.tracebacks:
                text += "\n" + "".join(traceback.format_exception(*record.exc_info)).rstrip()
            self.console.print(Text(text, style="dim"))
        except Exception:
            self.handleError(record)


def log_level(verbosity: int) -> int:
    return {0: logging.CRITICAL, 1: logging.INFO}.get(max(verbosity, 0), logging.DEBUG)


def _configure_logging(console: Console, verbosity: int) -> None:
    """The service logs for operators; here its records show only with -v (-vv: debug)."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        # Ours from an earlier command in this process, or the console handler that a settings
        # module's LOGGING installed (named by dictConfig); test runners' handlers stay.
        if isinstance(handler, _LogHandler) or handler.get_name():
            root.removeHandler(handler)
    level = log_level(verbosity)
    handler = _LogHandler(console, tracebacks=verbosity > 0)
    handler.setLevel(level)
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO))


class ProgressReporter:
    """A Rich progress bar per stage, with the time left; shown only on a terminal."""

    def __init__(self, ui: Ui) -> None:
        self.ui = ui
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<22}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeRemainingColumn(elapsed_when_finished=True),
            console=ui.err,
            disable=ui.quiet or not ui.err.is_terminal,
        )
        self.task: TaskID | None = None

    def __enter__(self) -> ProgressReporter:
        self.progress.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.progress.stop()

    def begin(self, stage: str, *, total: float | None = None) -> None:
        self.task = self.progress.add_task(stage, total=total)

    def advance(self, amount: float) -> None:
        if self.task is not None:
            self.progress.advance(self.task, amount)

    def end(self) -> None:
        if self.task is not None:
            total = self.progress.tasks[-1].total or 1
            self.progress.update(self.task, total=total, completed=total)
            self.task = None

    def info(self, message: str) -> None:
        self.ui.note(message)

    def warn(self, message: str) -> None:
        self.ui.warn(message)


def describe_seconds(seconds: float) -> str:
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {secs} s" if minutes else f"{secs} s"


# --- The command group -------------------------------------------------------------------------


class PagecastGroup(TyperGroup):
    """Every failure becomes one line on stderr and an exit code; never a traceback."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        Ui.verbosity = 0
        try:
            result = super().main(
                args,
                prog_name,
                complete_var,
                standalone_mode=False,
                windows_expand_args=windows_expand_args,
                **extra,
            )
            code = result if isinstance(result, int) else 0
            if code == EXIT_INTERRUPTED:
                print_error("Stopped. Run the same command again to go on where it stopped.")
        except typer.Abort:
            print_error("Stopped: the input ended before an answer was given.")
            code = EXIT_FAILURE
        except EXPECTED_ERRORS as exc:
            print_error(str(exc))
            code = EXIT_FAILURE
        except Exception as exc:
            usage = _command_line_error(exc)
            if usage is None:
                if Ui.verbosity > 0:
                    traceback.print_exc()
                print_error(
                    f"Unexpected {type(exc).__name__}; run again with -v to see the details."
                )
            code = EXIT_FAILURE if usage is None else usage
        if standalone_mode:
            sys.exit(code)
        return code


def _command_line_error(exc: Exception) -> int | None:
    """Report a mistake in the command line (Typer's usage errors); None for other errors."""
    format_message = getattr(exc, "format_message", None)
    exit_code = getattr(exc, "exit_code", None)
    if not callable(format_message) or not isinstance(exit_code, int):
        return None
    message = str(format_message()).strip()
    if not message:  # `pagecast` alone: the help was the answer
        return exit_code
    ctx = getattr(exc, "ctx", None)
    command = getattr(ctx, "command_path", None)
    hint = f" (see `{command} --help`)" if exit_code == EXIT_USAGE and command else ""
    print_error(f"{message}{hint}")
    return exit_code


app = typer.Typer(
    name="pagecast",
    cls=PagecastGroup,
    help="Turn documents into audio, page by page: on this machine, or with a Pagecast server.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
    context_settings={"help_option_names": ["-h", "--help"]},
)

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="Print errors only.")]
Verbose = Annotated[
    int, typer.Option("--verbose", "-v", count=True, help="Say more (twice: debugging detail).")
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pagecast {program_version()}")
        raise typer.Exit()


@app.callback()
def main(
    ctx: typer.Context,
    quiet: Quiet = False,
    verbose: Verbose = 0,
    show_version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Turn documents into audio, page by page: on this machine, or with a Pagecast server."""
    ctx.obj = -1 if quiet else verbose


def _ui(ctx: typer.Context, quiet: bool, verbose: int) -> Ui:
    """Options given before the command (`pagecast -q convert`) or after it both count."""
    before = ctx.obj if isinstance(ctx.obj, int) else 0
    if quiet or before < 0:
        return Ui(-1)
    return Ui(max(before, verbose))


def _setup() -> None:
    setup_django()


# --- convert -----------------------------------------------------------------------------------


class AudioFormat(enum.StrEnum):
    mp3 = "mp3"
    m4b = "m4b"


@app.command()
def convert(
    ctx: typer.Context,
    source: Annotated[
        str,
        typer.Argument(
            metavar="FILE_OR_URL",
            help="A PDF, EPUB, DOCX, HTML, Markdown or text file, or a web page's address.",
            show_default=False,
        ),
    ],
    voice: Annotated[
        str | None,
        typer.Option(
            "--voice",
            metavar="ID",
            help="Voice id (see `pagecast voices`). Default: SPEECH_DEFAULT_VOICE, the Piper "
            "voice piper:en_US-joe-medium unless set.",
            show_default=False,
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Folder to write into. Default: one named after the document, here.",
            show_default=False,
        ),
    ] = None,
    audio_format: Annotated[
        AudioFormat,
        typer.Option(
            "--format",
            "-f",
            case_sensitive=False,
            help="mp3: one file per page. m4b: also one audiobook with a chapter per page.",
        ),
    ] = AudioFormat.mp3,
    pages: Annotated[
        str | None,
        typer.Option(
            "--pages",
            "-p",
            metavar="RANGES",
            help="Only these pages, e.g. 1-5,9. Default: all.",
            show_default=False,
        ),
    ] = None,
    jobs: Annotated[
        int | None,
        typer.Option(
            "--jobs",
            "-j",
            min=1,
            metavar="N",
            envvar="PAGECAST_JOBS",
            help="Use N CPU cores: N pages spoken at once, each in its own process. "
            "Default: every core of this machine.",
            show_default=False,
        ),
    ] = None,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Speak a document on this machine: an MP3 per page, with timings and a playlist.

    Each page gets an MP3 and a WebVTT file of its sentence timings; a playlist (.m3u) lists
    them in order. Pages already made in the same voice are skipped, so a run that was stopped
    goes on where it stopped.
    """
    ui = _ui(ctx, quiet, verbose)
    cores = jobs or conversion.usable_cores()
    share_cores = conversion.claim_cores(cores)
    _setup()
    options = conversion.ConvertOptions(
        source=source,
        voice=voice,
        out=out,
        format=audio_format.value,
        pages=pages,
        jobs=cores,
        share_cores=share_cores,
    )
    with ProgressReporter(ui) as reporter:
        result = conversion.convert(options, reporter, log_level=log_level(ui.verbosity))
    if ui.quiet:
        return
    done = f"Made {_count(result.made, 'page')}"
    if result.skipped:
        done += f"; {_count(result.skipped, 'page')} already made"
    if result.silent:
        done += f"; {_count(result.silent, 'page')} with nothing to read aloud"
    ui.say(f"{done}. {describe_seconds(result.seconds)} of audio in {result.folder}")
    if result.playlist is not None:
        ui.say(f"Playlist: {result.playlist}")
    if result.audiobook is not None:
        ui.say(f"Audiobook: {result.audiobook}")


def _count(items: Sequence[object], noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


# --- voices ------------------------------------------------------------------------------------


@app.command()
def voices(
    ctx: typer.Context,
    sample: Annotated[
        str | None,
        typer.Option(
            "--sample", metavar="ID", help="Speak a short sample in this voice to an MP3 file."
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="PATH",
            help="The sample's file, or a folder for it. Default: the current folder.",
            show_default=False,
        ),
    ] = None,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """List the voices this machine can speak with (or, with --sample, hear one)."""
    ui = _ui(ctx, quiet, verbose)
    _setup()
    from speech_processing.voices import all_voices

    if sample is not None:
        _write_sample(ui, sample, out)
        return
    if out is not None:
        raise typer.BadParameter("it goes with --sample.", ctx=ctx, param_hint="--out")
    default = conversion.default_voice_id()
    found = sorted(all_voices(), key=lambda voice: (voice.id != default, voice.id))
    if ui.quiet:
        for voice in found:
            ui.out.print(voice.id)
        return
    rows = [("voice", "language", "gender", "description")]
    rows += [(v.id, v.language, v.gender or "-", v.description) for v in found]
    widths = [max(len(row[column]) for row in rows) for column in range(3)]
    for index, row in enumerate(rows):
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[3]]
        marker = "* " if index and row[0] == default else "  "
        style = "bold" if index == 0 else "green" if marker.strip() else ""
        ui.out.print(Text(marker + "  ".join(cells).rstrip(), style=style))
    ui.out.print(Text("* the default voice (SPEECH_DEFAULT_VOICE)", style="dim"))


def _write_sample(ui: Ui, voice_id: str, out: Path | None) -> None:
    from speech_processing.samples import SAMPLE_TEXT

    voice = conversion.find_voice(voice_id)
    name = f"{voice.id.replace(':', '-')}-sample.mp3"
    target = Path.cwd() / name if out is None else out / name if out.is_dir() else out
    check_folder(target.parent)
    job = conversion.PageJob(number=1, title="", text=SAMPLE_TEXT, stem="sample")
    spoken = conversion.speak_page(job, voice)
    if isinstance(spoken, conversion.PageFailure):
        raise conversion.ConvertError(f"The voice {voice.id} could not speak: {spoken.message}")
    try:
        write_atomic(target, spoken.mp3)
    except OSError as exc:
        raise OutputError(f"Cannot write {target}: {describe_os_error(exc)}.") from exc
    ui.say(f"Sample of {voice.id}: {target}")


# --- serve -------------------------------------------------------------------------------------


@app.command()
def serve() -> None:
    """Run the Pagecast server here, as `make run` does.

    Starts the web server, the worker and beat in this terminal; Ctrl-C stops all three. PORT
    (8000) and DATA_DIR (./var) choose where it serves and keeps its data.
    """
    from pagecast_cli.serve import serve as run_server

    raise typer.Exit(run_server())


# --- Server commands ---------------------------------------------------------------------------


@app.command()
def login(
    ctx: typer.Context,
    url: Annotated[
        str,
        typer.Argument(
            metavar="URL", help="The server, e.g. http://127.0.0.1:8000.", show_default=False
        ),
    ],
    email: Annotated[
        str | None,
        typer.Option("--email", help="Your account's email (asked for when not given)."),
    ] = None,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin", help="Read the password from the first line of standard input."
        ),
    ] = False,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Log in to a Pagecast server, for `upload` and `listen`.

    The token is kept under $XDG_CONFIG_HOME/pagecast (by default ~/.config/pagecast), readable
    by you only.
    """
    ui = _ui(ctx, quiet, verbose)
    address = client.server_url(url)
    if client.is_unencrypted(address):
        ui.warn(f"{address} is plain HTTP: your password and token cross the network unencrypted.")
    email = email or typer.prompt("Email")
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        with warnings.catch_warnings():
            # Without a terminal the password cannot be hidden; the prompt still works.
            warnings.simplefilter("ignore", getpass.GetPassWarning)
            password = typer.prompt("Password", hide_input=True)
    if not password:
        raise client.ClientError("No password given.")
    saved, path = client.login(address, email=email, password=password)
    ui.say(f"Logged in to {saved.url} as {email}. Token kept in {path}")


@app.command()
def upload(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The document to send.")],
    title: Annotated[str | None, typer.Option("--title", help="Its title on the server.")] = None,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Send a document to the server you logged in to.

    Prints the new document's id (with -q, only the id).
    """
    ui = _ui(ctx, quiet, verbose)
    document = client.upload(file, title=title)
    if ui.quiet:
        ui.out.print(str(document["id"]))
        return
    ui.say(
        f"Uploaded {file.name} as document {document['id']} ({document['status']}). "
        f"Make its audio on the server, then: pagecast listen {document['id']}"
    )


@app.command()
def listen(
    ctx: typer.Context,
    document: Annotated[int, typer.Argument(metavar="DOC", help="The document's id.")],
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            metavar="DIR",
            help="Folder to download into. Default: one named after the document, here.",
            show_default=False,
        ),
    ] = None,
    voice: Annotated[
        str | None,
        typer.Option(
            "--voice",
            metavar="ID",
            help="The voice to listen in. Default: your preferred voice on the server, else "
            "the server's.",
            show_default=False,
        ),
    ] = None,
    make: Annotated[
        bool,
        typer.Option(
            "--make",
            help="Ask the server to make the audio that is missing (or outdated) in that "
            "voice, and wait for it before downloading.",
        ),
    ] = False,
    quiet: Quiet = False,
    verbose: Verbose = 0,
) -> None:
    """Download a document's finished audio from the server: one MP3 per page."""
    ui = _ui(ctx, quiet, verbose)

    def making(count: int) -> None:
        if count:
            noun = "page" if count == 1 else "pages"
            ui.note(f"Waiting for the server to make the audio of {count} {noun}.")

    with ProgressReporter(ui) as reporter:
        result = client.listen(
            document,
            out=out,
            voice=voice,
            make=make,
            on_making=making,
            on_total=lambda total: reporter.begin("Downloading", total=total),
            on_page=lambda: reporter.advance(1),
        )
        reporter.end()
    if not result.downloaded and not result.kept:
        hint = "" if make else " (or run this again with --make)"
        raise client.ClientError(
            f"Document {document} has no finished audio yet; make it on the server first{hint}."
        )
    message = f"Downloaded {_count(result.downloaded, 'file')} to {result.folder}"
    if result.kept:
        message += f" ({len(result.kept)} already there)"
    if result.missing:
        noun = "pages" if len(result.missing) > 1 else "page"
        numbers = ", ".join(str(number) for number in result.missing)
        message += f". No finished audio yet for {noun} {numbers}"
    for reason, why in _WHY_MISSING.items():
        pages = [str(number) for number, said in result.reasons.items() if said == reason]
        if pages:
            message += f". {'Page' if len(pages) == 1 else 'Pages'} {', '.join(pages)}: {why}"
    ui.say(message + ".")


# Pages whose audio --make cannot bring, and why (the playlist's reasons in API.md).
_WHY_MISSING = {
    "no_text": "no text to speak",
    "not_permitted": "you may listen but not make audio here",
    "quota_exceeded": "no audio left in the page's quota",
}


if __name__ == "__main__":
    app()
