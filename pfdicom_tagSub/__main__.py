"""The ``pfdicom_tagSub`` command line: every spelling users have in scripts.

The README's short flags (``-I -O -i -e -F -T -o -x -y -v``), the 3.x long flags, the ChRIS
wrapper's aliases (``-n -s -k -d``) and positional ``inputDir outputDir``. This is the module
that turns errors into one line and an exit code: 0 done, 1 a file failed or the run could not
start, 2 bad arguments or rules; 130 (Ctrl-C) or 143 (SIGTERM) when interrupted, the run ended
cleanly. ``--version``, ``--man`` and ``--synopsis`` answer before pydicom or pftree is imported.

Key components:
    - parser_build: the argparse parser, ``dest`` equal to each flag's long name
    - dirs_merge: positional and flag directories into one pair
    - command_run: one run of the command
    - main: ``main(argv) -> int``, Ctrl-C and SIGTERM turned into one line and 130 or 143

Typical usage:
    pfdicom_tagSub -I in -O out -F rules.json
    python -m pfdicom_tagSub in out --tagInfo 'PatientName,ANON'

Dependencies:
    - pfdicom_tagSub.pfdicom_tagSub, imported after the quick answers
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from pfdicom_tagSub import __pkg_name__, __version__
from pfdicom_tagSub.errors import EXIT_OK, EXIT_USAGE, TagSubError, UsageError
from pfdicom_tagSub.interrupts import exitCode_of, interruption_take, signals_raised
from pfdicom_tagSub.manual import MANUAL, SYNOPSIS


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser, whose error line shows an argument's control characters escaped."""

    def error(self, message: str) -> NoReturn:
        from pfdicom_tagSub.console import text_escape

        super().error(text_escape(message))


def parserIO_add(parser: argparse.ArgumentParser) -> None:
    """Where to read and write, and which files."""
    group = parser.add_argument_group("input and output")
    group.add_argument("inputDirArg", nargs="?", default="", metavar="inputDir", help="input tree (or -I)")
    group.add_argument("outputDirArg", nargs="?", default="", metavar="outputDir", help="output root (or -O)")
    group.add_argument("-I", "--inputDir", "--inputdir", dest="inputDir", default="", help="input tree")
    group.add_argument(
        "-O",
        "--outputDir",
        "--outputdir",
        dest="outputDir",
        default="",
        help="output root; %%inputDir: in place",
    )
    group.add_argument(
        "-i", "--inputFile", dest="inputFile", default="", help="one file under inputDir, or a name filter"
    )
    group.add_argument(
        "-e", "--extension", dest="extension", default="", help="only files ending in this extension"
    )
    group.add_argument("--fileFilter", dest="fileFilter", default="", help="pftree file filter tokens")
    group.add_argument("--fileFilterLogic", dest="fileFilterLogic", default="OR", help="AND or OR")
    group.add_argument(
        "-d", "--dirFilter", dest="dirFilter", default="", help="pftree directory filter tokens"
    )
    group.add_argument("--dirFilterLogic", dest="dirFilterLogic", default="OR", help="AND or OR")
    group.add_argument("--maxDepth", dest="maxDepth", default="-1", help="levels to walk; -1 for all")
    group.add_argument("--followLinks", dest="followLinks", action="store_true", help="follow symbolic links")
    group.add_argument("--relativeDir", dest="relativeDir", action="store_true", help="as pftree")


def parserRules_add(parser: argparse.ArgumentParser) -> None:
    """The rules and what they touch."""
    group = parser.add_argument_group("rules")
    group.add_argument("-F", "--tagFile", dest="tagFile", default="", help="rules from a JSON file")
    group.add_argument("-T", "--tagStruct", dest="tagStruct", default="", help="rules as a JSON string")
    group.add_argument("-n", "--tagInfo", dest="tagInfo", default="", help="rules as key,value ++ key,value")
    group.add_argument(
        "--profile",
        dest="profile",
        default="",
        metavar="basic[,OPTION...]",
        help="PS3.15 Annex E's Basic Profile, with its options (see --man); rules override it",
    )
    group.add_argument("-s", "--splitToken", dest="splitToken", default="++", help="--tagInfo item separator")
    group.add_argument(
        "-k", "--splitKeyValue", dest="splitKeyValue", default=",", help="--tagInfo key/value separator"
    )
    group.add_argument(
        "--removePrivateTags",
        dest="removePrivateTags",
        action="store_true",
        help="remove every private element",
    )
    group.add_argument(
        "--topLevelOnly", dest="topLevelOnly", action="store_true", help="leave nested sequences alone"
    )
    group.add_argument(
        "--keyFile",
        dest="keyFile",
        default="",
        metavar="FILE",
        help="the secret key of hash/uid/dateshift (else $PFDICOM_TAGSUB_KEY, else a generated one)",
    )
    group.add_argument(
        "--dateShiftRange",
        dest="dateShiftRange",
        default="-1095:-1",
        metavar="MIN:MAX",
        help="days a seeded dateshift moves by (default -1095:-1; write --dateShiftRange=-30:-10)",
    )


def parserOutput_add(parser: argparse.ArgumentParser) -> None:
    """How outputs are named and written, and what is reported."""
    group = parser.add_argument_group("output and reporting")
    group.add_argument(
        "-o", "--outputFileStem", dest="outputFileStem", default="", help="name outputs by a template"
    )
    group.add_argument(
        "--outputLeafDir", dest="outputLeafDir", default="", help="rename each output leaf, e.g. anon-%%s"
    )
    group.add_argument("--overwrite", dest="overwrite", action="store_true", help="replace existing outputs")
    group.add_argument(
        "--dryRun", dest="dryRun", action="store_true", help="print every change, write nothing"
    )
    group.add_argument(
        "--audit", dest="audit", default="", metavar="FILE", help="record every change in an SQLite file"
    )
    group.add_argument(
        "--verify",
        dest="verify",
        action="store_true",
        help="search each output for the original values; a hit fails the file",
    )
    group.add_argument("--json", dest="json", action="store_true", help="print the run record as JSON")
    group.add_argument(
        "--printElapsedTime", dest="printElapsedTime", action="store_true", help="print the wall time"
    )
    group.add_argument(
        "-v", "--verbosity", dest="verbosity", default="1", help="0 errors only ... 5 every file"
    )
    group.add_argument("--syslog", dest="syslog", action="store_true", help="syslog-style line prefixes")
    group.add_argument("-x", "--man", dest="man", action="store_true", help="print the manual")
    group.add_argument("-y", "--synopsis", dest="synopsis", action="store_true", help="print the synopsis")
    group.add_argument("--version", dest="version", action="store_true", help="print the version")


def parserScale_add(parser: argparse.ArgumentParser) -> None:
    """Where the files run: worker processes here, a Dask cluster, or one shard of the tree."""
    group = parser.add_argument_group("scale")
    # None when not given, so that --threads with --dask can be refused (API callers pass '0')
    group.add_argument("--threads", dest="threads", default=None, help="worker processes; 0 = one")
    group.add_argument(
        "--dask", dest="dask", default="", metavar="ADDRESS", help="run on the Dask cluster of this scheduler"
    )
    group.add_argument(
        "--daskTimeout",
        dest="daskTimeout",
        default="30",
        metavar="SECONDS",
        help="how long to wait for the Dask scheduler and a worker",
    )
    group.add_argument(
        "--shard", dest="shard", default="", metavar="I/N", help="process only shard I of N (0 <= I < N)"
    )


def parser_build() -> argparse.ArgumentParser:
    """The command's parser."""
    parser = ArgumentParser(
        prog=__pkg_name__,
        description="Rewrite DICOM headers by rules over a directory tree (see --man).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parserIO_add(parser)
    parserRules_add(parser)
    parserOutput_add(parser)
    parserScale_add(parser)
    return parser


def dirs_merge(args: argparse.Namespace) -> None:
    """Fold the positional directories into ``inputDir``/``outputDir``.

    Raises:
        UsageError: a directory given both ways, differently.
    """
    for flag, positional in (("inputDir", "inputDirArg"), ("outputDir", "outputDirArg")):
        byFlag: str = getattr(args, flag)
        byPosition: str = getattr(args, positional)
        if byFlag and byPosition and byFlag != byPosition:
            raise UsageError(f"{flag} given twice: --{flag} {byFlag} and positional {byPosition}")
        setattr(args, flag, byFlag or byPosition)
        delattr(args, positional)


def error_print(message: str) -> None:
    """One error line on stderr, whatever the message holds."""
    from pfdicom_tagSub.console import stream_silence, text_escape

    try:
        print(f"{__pkg_name__}: {text_escape(message)}", file=sys.stderr, flush=True)
    except BrokenPipeError:
        stream_silence(sys.stderr)


def command_run(argv: Sequence[str] | None, made: list[Any]) -> int:
    """Parse, build the run (appended to ``made`` for ``main`` to see), run it, print what was asked."""
    parser: argparse.ArgumentParser = parser_build()
    try:
        args: argparse.Namespace = parser.parse_args(argv)
    except SystemExit as exit:
        return int(exit.code or 0) if not isinstance(exit.code, str) else EXIT_USAGE
    if args.version:
        print(f"Name:    {__pkg_name__}\nVersion: {__version__}")
        return EXIT_OK
    if args.man or args.synopsis:
        print(MANUAL if args.man else SYNOPSIS)
        return EXIT_OK
    try:
        dirs_merge(args)
        from pfdicom_tagSub.pfdicom_tagSub import pfdicom_tagSub

        made.append(pfdicom_tagSub({**vars(args), "str_desc": SYNOPSIS}))
    except TagSubError as err:
        error_print(f"error: {err}")
        return err.exitCode
    result: dict[str, object] = made[-1].run(timerStart=True)
    if args.json:
        from pfdicom_tagSub.console import json_clean, stream_silence

        try:
            print(json.dumps(json_clean(result), indent=4, sort_keys=True, default=str), flush=True)
        except BrokenPipeError:
            stream_silence(sys.stdout)
    if args.printElapsedTime:
        made[-1].dp.qprint("Elapsed time = %f seconds" % float(str(result["runTime"])), level=0)  # noqa: UP031  # the pf* wording
    return int(str(result["exitCode"]))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; Ctrl-C or SIGTERM at any moment ends it with one line.

    Args:
        argv: the arguments, without the program name; ``sys.argv[1:]`` when None, and then this
            is the program: once it returns, the process is ending, and later interrupts are
            ignored rather than allowed to kill it without its exit status.

    Returns:
        The exit status: 0, 1 or 2; 130 when interrupted (Ctrl-C), 143 when terminated (SIGTERM).
    """
    made: list[Any] = []  # the run, once built: an interrupt says how far it got
    try:
        with signals_raised(restore=argv is not None):
            return command_run(argv, made)
    except BaseException as error:
        interruption: BaseException | None = interruption_take(error)
        if interruption is None:
            raise
        from pfdicom_tagSub.report import interrupted_line

        record: Any = made[-1].record if made else None
        dryRun: bool = bool(made) and made[-1].config.dryRun
        error_print(interrupted_line(record, dryRun))
        return exitCode_of(interruption)


if __name__ == "__main__":
    sys.exit(main())
