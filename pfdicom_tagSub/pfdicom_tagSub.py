"""The ``pfdicom_tagSub`` class: rewrite DICOM headers by rules, over a whole tree.

The API existing callers use (the ChRIS plugin wrapper among them) is kept: one dict in, with
unknown keys ignored and ``inputdir``/``outputdir`` accepted in lower case; ``run(timerStart=True)``
returns a dict; ``dp.qprint``, ``str_version`` and ``d_tagStruct`` are there. The rules are read
and checked in the constructor, so a bad rule raises before any file is touched.

Key components:
    - pfdicom_tagSub: the class

Typical usage:
    app = pfdicom_tagSub({"inputDir": "/in", "outputDir": "/out",
                          "tagStruct": '{"PatientName": "%_name|patientID_PatientName"}'})
    d = app.run(timerStart=True)
    app.dp.qprint("Elapsed time = %f seconds" % d["runTime"])

Dependencies:
    - pfdicom_tagSub.pfdicom (the engine), dicomfile (the job it is given), rules, template, keys,
      sources, profiles, report
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from pfdicom_tagSub import report
from pfdicom_tagSub.dicomfile import FileJob
from pfdicom_tagSub.errors import UsageError
from pfdicom_tagSub.functions import Context
from pfdicom_tagSub.keys import KEY_ENVIRONMENT, Key, key_load, keyPath_default
from pfdicom_tagSub.models import TagSubOptions, Template
from pfdicom_tagSub.pfdicom import pfdicom
from pfdicom_tagSub.profiles import Profile
from pfdicom_tagSub.rules import RuleSet, rules_compile
from pfdicom_tagSub.sinks import audit_check
from pfdicom_tagSub.sources import profile_load, rules_required, tagStruct_load
from pfdicom_tagSub.template import template_needsKey, template_parse


def path_isInside(path: Path, root: Path) -> bool:
    """Whether a path, symbolic links resolved, is ``root`` or lies under it."""
    resolved: Path = path.resolve()
    top: Path = root.resolve()
    return resolved == top or top in resolved.parents


def audit_validate(config: TagSubOptions) -> None:
    """Check ``--audit`` before anything is read: not with a dry run, not in the input tree, this tool's.

    Raises:
        UsageError: for each of those.
    """
    if not config.audit:
        return
    if config.dryRun:
        raise UsageError("--audit records what a run wrote; a --dryRun writes nothing: drop one of them")
    if path_isInside(Path(config.audit), Path(config.inputDir)):
        raise UsageError(f"--audit {config.audit}: inside the input directory, which is never written")
    audit_check(config.audit)


def shardKey_check(keyFile: str, environ: Mapping[str, str]) -> None:
    """Refuse to make a new key for one shard: the other shards, on other machines, would make
    keys of their own, and give the same patient other pseudonyms.

    Raises:
        UsageError: no ``--keyFile``, no ``PFDICOM_TAGSUB_KEY`` and no default key yet.
    """
    if not keyFile and KEY_ENVIRONMENT not in environ and not os.path.lexists(keyPath_default(environ)):
        raise UsageError(
            f"--shard: keyed rules need the same key in every shard, and there is none yet: give "
            f"--keyFile or {KEY_ENVIRONMENT} (or run once without --shard to create the default key)"
        )


class pfdicom_tagSub(pfdicom):
    """Substitute DICOM element values by rules, mirroring the input tree into the output tree.

    Attributes:
        d_tagStruct: the rules as given, key to value template, in order.
        profile: ``--profile``, built from PS3.15's table; None without one.
        ruleset: the checked rules.
        stem: the parsed ``--outputFileStem`` template, or None.

    Raises (from the constructor):
        UsageError: bad or conflicting options.
        RuleError: a bad rule; nothing has been read or written.
    """

    def __init__(self, args: dict[str, object] | None = None, **kwargs: object) -> None:
        super().__init__({**(args or {}), **kwargs})
        audit_validate(self.config)
        self.d_tagStruct: dict[str, str] = tagStruct_load(self.config)
        rules_required(self.config, self.d_tagStruct)
        self.profile: Profile | None = profile_load(self.config, bool(self.d_tagStruct), self.str_version)
        self.ruleset: RuleSet = rules_compile(self.d_tagStruct, self.profile)
        self.stem: Template | None = (
            template_parse(self.config.outputFileStem) if self.config.outputFileStem else None
        )
        self.job = FileJob(self.config, self.ruleset, self.stem, context=self.context_make())

    def context_make(self) -> Context:
        """What the functions share: the secret key, loaded only when a rule or the stem needs it.

        Raises:
            UsageError: the key cannot be read or created, or is too short.
        """
        needed: bool = self.ruleset.keyNeeded or (self.stem is not None and template_needsKey(self.stem))
        if needed and self.shard:
            shardKey_check(self.config.keyFile, os.environ)
        key: Key | None = key_load(self.config.keyFile, os.environ, self.dp.notice) if needed else None
        return Context(key, self.config.dateShift)

    def start_report(self) -> None:
        """The start line: version, roots, profile, rules, workers and shard."""
        config: TagSubOptions = self.config
        workers: str = f"Dask cluster {config.dask}" if config.dask else report.plural(self.workers, "worker")
        shard: str = f", shard {self.shard}" if self.shard else ""
        profile: str = f"--profile {self.profile.text}, " if self.profile is not None else ""
        self.dp.qprint(
            f"{self.__name__} {self.str_version}: {self.inputPath} -> {self.outputPath}, "
            f"{profile}{report.plural(len(self.d_tagStruct), 'rule')}, {workers}{shard}",
            level=1,
        )

    def run(self, *args: object, timerStart: bool = True, **kwargs: object) -> dict[str, object]:
        """Substitute over the whole tree.

        Returns:
            ``{'status', 'exitCode', 'error', 'runTime', 'd_pfdicom', 'd_tagSub'}``; ``d_tagSub``
            holds ``filesRead``, ``filesAnalyzed``, ``filesSaved``, the lists of failed and
            non-DICOM files, the rule keys and the profile, without any element value.
        """
        result: dict[str, object] = super().run(*args, timerStart=timerStart, **kwargs)
        unmatched: list[str] = (
            self.ruleset.regexes_unmatched(self.record.regexHits) if self.record.filesAnalyzed else []
        )
        d_tagSub: dict[str, object] = report.tagSub_toDict(self.record, unmatched, list(self.d_tagStruct))
        d_tagSub["profile"] = self.profile.text if self.profile is not None else ""
        d_tagSub["shard"] = self.shard or None
        if self.planSink is not None and self.planSink.gather:
            d_tagSub["plan"] = self.planSink.plan
        result["d_tagSub"] = d_tagSub
        if not result["error"]:
            for line in report.summary_lines(self.record, self.config.dryRun, self.config.verify):
                self.dp.qprint(line, level=1)
            for line in report.notes_lines(self.record, unmatched):
                self.dp.warning(line)
        return result
