"""Plan a file's changes as values, each checked for its element, and apply them.

``plan`` walks a data set (nested sequences included) and asks the rule set, element by element,
which rule acts on it (a private element by the creator its data set gives its block), then
evaluates that rule against the values as read, returning a list of ``Change``: nothing in the
data set is modified while planning, so each rule sees the file as it was read and the plan can
be shown, stored and checked before anything happens. ``changes_apply`` then writes exactly
those changes.

Key components:
    - creators_read: a data set's private creators, by the tag of their creator element
    - Planner / plan: the walk that turns rules into changes, then the elements created, the
      file meta following, and a profile's conformance elements
    - changes_apply: set, create and remove what the changes say

Typical usage:
    changes = plan(dataset, ruleset, topLevelOnly=False, removePrivate=False).changes
    changes_apply(dataset, changes)

Dependencies:
    - pydicom for element conversion
    - pfdicom_tagSub.dictionary, functions, template, rules, values (the checks), sequences
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field

from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.tag import BaseTag, Tag

from pfdicom_tagSub.dictionary import (
    keyword_of,
    keyword_vr,
    private_creatorTag,
    tag_of,
    tag_vm,
)
from pfdicom_tagSub.errors import DicomReadError, ValueInvalidError
from pfdicom_tagSub.functions import Context, dummy_make
from pfdicom_tagSub.models import META_PATH, Action, Change, Rule, RuleSkip, Steps, tag_format
from pfdicom_tagSub.profiles import Profile, Stamp
from pfdicom_tagSub.rules import RuleSet
from pfdicom_tagSub.sequences import dataset_at, element_isComplete, element_isSequence, sequence_items
from pfdicom_tagSub.template import Absent, Scope, template_evaluate
from pfdicom_tagSub.values import (
    dataset_encodings,
    element_text,
    element_textOrNone,
    text_check,
    value_fromText,
)

SPECIFIC_CHARACTER_SET: BaseTag = Tag(0x0008, 0x0005)
SOP_INSTANCE_UID: int = 0x00080018
MEDIA_STORAGE_SOP_INSTANCE_UID: int = 0x00020003
REMOVE_PRIVATE: str = "--removePrivateTags"
PROFILE: str = "--profile"
EMPTY_SEQUENCE: str = "[]"


Lookup = Callable[[str], str | None]


def lookup_make(chain: list[Dataset], current: tuple[str, BaseTag] | None = None) -> Lookup:
    """Keyword to text, read from the innermost data set that holds it; None when absent.

    ``current`` is the name and tag of the element being replaced, found in ``chain[0]`` by its
    tag: a repeating-group keyword (``OverlayDescription``, groups 6000-601E) names no single tag,
    and a private element has no keyword (its name is its tag, ``(0009,1001)``). A binary element
    raises ValueError: it has no text.
    """

    def lookup(keyword: str) -> str | None:
        tag: int | None = current[1] if current is not None and keyword == current[0] else tag_of(keyword)
        if tag is None:
            return None
        for dataset in chain:
            if tag in dataset:
                try:
                    return element_text(dataset[tag].value)
                except TypeError:
                    raise ValueError(f"{keyword} is binary and has no text form") from None
        return None

    return lookup


def scope_make(chain: list[Dataset], context: Context, current: tuple[str, str] | None = None) -> Scope:
    """What a template of an element in ``chain[0]`` reads besides the lookup: the run's key and
    settings, the top-level data set, and VRs (the element's own for ``current``, name and VR)."""

    def vrOf(keyword: str) -> str:
        return current[1] if current is not None and keyword == current[0] else keyword_vr(keyword)

    return Scope(context, lookup_make(chain[-1:]), vrOf)


def creators_read(dataset: Dataset) -> dict[int, str]:
    """A data set's private creators: the tag of each creator element (gggg,0010-00FF) to its text."""
    creators: dict[int, str] = {}
    for tag in dataset.keys():  # noqa: SIM118  # iterating a Dataset would decode every element
        if tag.is_private and 0x10 <= tag.element <= 0xFF:
            value: object = dataset[tag].value
            text: str = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            creators[int(tag)] = text.strip(" \0")
    return creators


@dataclass
class Planner:
    """The walk over one data set that turns rules into changes; the data set is not modified.

    Attributes:
        ruleset: the checked rules.
        topLevelOnly: leave nested sequences alone.
        removePrivate: remove every private element, at every depth.
        context: the run's key and settings, for the functions and dummies.
        changes: the changes found, in walk order.
        skips: rules not applied for an absent reference.
        regexHits: indices of the regex rules that matched a keyword.
    """

    ruleset: RuleSet
    topLevelOnly: bool
    removePrivate: bool
    context: Context = field(default_factory=Context)
    changes: list[Change] = field(default_factory=list)
    skips: list[RuleSkip] = field(default_factory=list)
    regexHits: set[int] = field(default_factory=set)

    @property
    def descend(self) -> bool:
        """Whether nested sequences are entered: for the rules, or to remove private elements."""
        return not self.topLevelOnly or self.removePrivate

    def dataset_visit(self, dataset: Dataset, chain: list[Dataset], where: str, steps: Steps) -> None:
        """Plan every element of one data set, descending into its sequences' items."""
        applyRules: bool = not (self.topLevelOnly and where)
        creators: dict[int, str] = creators_read(dataset) if self.ruleset.hasPrivate and applyRules else {}
        unnamed: bool = self.ruleset.namesUnnamed
        for tag in list(dataset.keys()):  # iterating a Dataset would decode every element
            if self.removePrivate and tag.is_private:
                self.element_remove(dataset, tag, where, steps, REMOVE_PRIVATE)
                continue
            if where and not element_isComplete(dataset.get_item(tag)):
                raise DicomReadError(
                    f"truncated: {where}{keyword_of(tag) or tag} is shorter than its header says"
                )
            keyword: str = keyword_of(tag)
            rule: Rule | None = None
            if applyRules and (keyword or unnamed):
                creator: str | None = creators.get(private_creatorTag(tag) or 0) if creators else None
                rule, hits = self.ruleset.rule_for(keyword, tag, creator)
                self.regexHits.update(hits)
            if rule is not None and rule.action == "remove":
                if not self.creator_isNeeded(dataset, tag, rule, creators):
                    self.element_remove(dataset, tag, where, steps, rule.key)  # a sequence goes whole
                    continue
                rule = None
            acts: bool = rule is not None and rule.action != "keep"
            if not self.descend:
                # asked even without a rule: pydicom's reading of a doubtful element is what is written
                if not element_isSequence(dataset, tag) and acts and rule is not None:
                    self.element_plan(dataset, tag, rule, chain, where, steps)
                continue
            items: Sequence | None = sequence_items(dataset, tag)
            if items is not None and rule is not None and rule.action == "empty":
                self.sequence_empty(dataset, tag, where, steps, rule.key)
            elif items is not None:
                name: str = where + (keyword or tag_format(tag))
                for index, item in enumerate(items):
                    self.dataset_visit(item, [item, *chain], f"{name}[{index}].", (*steps, (tag, index)))
            elif acts and rule is not None:
                self.element_plan(dataset, tag, rule, chain, where, steps)

    def creator_isNeeded(self, dataset: Dataset, tag: BaseTag, rule: Rule, creators: dict[int, str]) -> bool:
        """Whether a private creator element that a profile removes reserves a block in which a user
        rule keeps an element: the element would be left without its creator."""
        if not (Profile.isPrivateRemoval(rule) and self.ruleset.keepsPrivate and 0x10 <= tag.element <= 0xFF):
            return False
        creator: str | None = (creators or creators_read(dataset)).get(int(tag))
        for other in dataset.keys():  # noqa: SIM118  # iterating a Dataset would decode every element
            if other.group == tag.group and other.element >> 8 == tag.element:
                found: Rule | None = self.ruleset.rule_for("", other, creator)[0]
                if found is None or found.action != "remove":
                    return True
        return False

    def sequence_empty(self, dataset: Dataset, tag: BaseTag, where: str, steps: Steps, why: str) -> None:
        """Plan a sequence left with no items (PS3.15's Z on a sequence)."""
        keyword: str = keyword_of(tag)
        path: str = where + (keyword or tag_format(tag))
        change: Change = Change(path, int(tag), keyword, "SQ", "replace", None, EMPTY_SEQUENCE, why, steps)
        self.changes.append(change)

    def element_remove(self, dataset: Dataset, tag: BaseTag, where: str, steps: Steps, why: str) -> None:
        """Plan the removal of one element (a sequence's items go with it)."""
        element: DataElement = dataset[tag]
        keyword: str = keyword_of(tag)
        old: str | None = element_textOrNone(element)
        path: str = where + (keyword or tag_format(tag))
        self.changes.append(Change(path, int(tag), keyword, element.VR, "remove", old, None, why, steps))

    def element_plan(
        self, dataset: Dataset, tag: BaseTag, rule: Rule, chain: list[Dataset], where: str, steps: Steps
    ) -> None:
        """Evaluate one rule (a template or ``%_dummy``) for one element present in the file and
        keep the checked change.

        Raises:
            ValueInvalidError: the rule's function or dummy cannot take this element or value.
        """
        element: DataElement = dataset[tag]
        keyword: str = keyword_of(tag)
        name: str = keyword or tag_format(tag)
        vr: str = element.VR.split(" or ")[0]
        old: str | None = element_textOrNone(element)
        try:
            if rule.action == "dummy":
                text: str | Absent = dummy_make(vr, tag_vm(tag) if keyword else "", old, self.context)
            else:
                scope: Scope = scope_make(chain, self.context, (name, vr))
                text = template_evaluate(rule.template, name, lookup_make(chain, (name, tag)), scope)
        except ValueError as err:
            raise ValueInvalidError(f"{where}{name} ({vr}): {err}; rule {rule.describe()}") from None
        if isinstance(text, Absent):
            self.skips.append(RuleSkip(rule.key, str(text)))
            return
        change: Change = Change(where + name, int(tag), keyword, vr, "replace", old, text, rule.key, steps)
        self.change_add(change, rule, chain)

    def change_add(self, change: Change, rule: Rule, chain: list[Dataset]) -> None:
        """Check a change's new text and keep it.

        Raises:
            ValueInvalidError: naming path, VR, why and rule; the value only in its full message.
        """
        try:
            text_check(change.vr, change.tag, change.new or "", dataset_encodings(chain))
        except ValueError as err:
            raise ValueInvalidError(
                f"{change.path} ({change.vr}) = {change.new!r}: {err}; rule {rule.describe()}",
                f"{change.path} ({change.vr}): {err}; rule {rule.describe()}",
            ) from None
        self.changes.append(change)


def absent_create(planner: Planner, root: Dataset) -> None:
    """Plan the top-level elements that explicit template rules name and the file lacks."""
    for rule in planner.ruleset.creatable():
        tag: int = rule.tag or 0
        if tag in root:
            continue
        keyword: str = keyword_of(tag)
        scope: Scope = scope_make([root], planner.context)
        try:
            text: str | Absent = template_evaluate(rule.template, keyword, lookup_make([root]), scope)
        except ValueError as err:
            raise ValueInvalidError(f"{keyword}: {err}; rule {rule.describe()}") from None
        if isinstance(text, Absent):
            planner.skips.append(RuleSkip(rule.key, str(text)))
            continue
        vr: str = keyword_vr(keyword).split(" or ")[0]
        planner.change_add(Change(keyword, tag, keyword, vr, "create", None, text, rule.key), rule, [root])


def stamps_plan(planner: Planner, root: Dataset) -> None:
    """Plan a profile's conformance elements at the top level, created or replaced; each takes the
    place of what a ``re:`` rule planned for the same element."""
    stamp: Stamp
    for stamp in planner.ruleset.stamps():
        planner.changes = [
            change for change in planner.changes if change.steps or change.meta or change.tag != stamp.tag
        ]
        present: bool = stamp.tag in root
        old: str | None = element_textOrNone(root[stamp.tag]) if present else None
        action: Action = "replace" if present else "create"
        planner.changes.append(
            Change(stamp.keyword, stamp.tag, stamp.keyword, stamp.vr, action, old, stamp.text, PROFILE)
        )


def meta_remap(planner: Planner, meta: Dataset) -> None:
    """A profile's rule for MediaStorageSOPInstanceUID, for a data set without a SOPInstanceUID to follow."""
    profile: Profile | None = planner.ruleset.profile
    rule: Rule | None = profile.rule_for(MEDIA_STORAGE_SOP_INSTANCE_UID) if profile is not None else None
    if rule is None or rule.action != "template":
        return
    planned: int = len(planner.changes)
    planner.element_plan(meta, Tag(MEDIA_STORAGE_SOP_INSTANCE_UID), rule, [meta], META_PATH, ())
    remapped: list[Change] = planner.changes[planned:]
    planner.changes[planned:] = [dataclasses.replace(change, meta=True) for change in remapped]


def meta_follow(planner: Planner, root: Dataset) -> None:
    """The file meta's MediaStorageSOPInstanceUID follows a new top-level SOPInstanceUID (a profile
    remaps it by itself in a data set without one)."""
    meta: Dataset | None = getattr(root, "file_meta", None)
    if meta is None or MEDIA_STORAGE_SOP_INSTANCE_UID not in meta:
        return
    if SOP_INSTANCE_UID not in root:
        meta_remap(planner, meta)
        return
    for change in planner.changes:
        if change.tag == SOP_INSTANCE_UID and not change.steps and change.action != "remove":
            old: str | None = element_textOrNone(meta[MEDIA_STORAGE_SOP_INSTANCE_UID])
            keyword: str = keyword_of(MEDIA_STORAGE_SOP_INSTANCE_UID)
            planner.changes.append(
                Change(
                    META_PATH + keyword,
                    MEDIA_STORAGE_SOP_INSTANCE_UID,
                    keyword,
                    "UI",
                    "replace",
                    old,
                    change.new,
                    change.rule,
                    meta=True,
                )
            )
            return


def plan(
    root: Dataset, ruleset: RuleSet, topLevelOnly: bool, removePrivate: bool, context: Context | None = None
) -> Planner:
    """Plan a whole file: the walk, then the elements to create (a profile's conformance elements
    among them), then the file meta.

    Args:
        context: the run's key and settings; None for a run whose rules need no key.

    Returns:
        The planner, holding the changes, the rules skipped and the regexes that matched.

    Raises:
        ValueInvalidError: a result is not valid for its element.
        DicomReadError: a nested element is cut short.
    """
    planner: Planner = Planner(ruleset, topLevelOnly, removePrivate, context or Context())
    planner.dataset_visit(root, [root], "", ())
    absent_create(planner, root)
    stamps_plan(planner, root)
    meta_follow(planner, root)
    return planner


def changes_apply(root: Dataset, changes: list[Change] | tuple[Change, ...]) -> None:
    """Write every change into the data set: set, create or remove."""
    for change in changes:
        dataset: Dataset = dataset_at(root, change)
        if change.action == "remove":
            del dataset[change.tag]
        elif change.action == "create":
            dataset.add_new(change.tag, change.vr, value_fromText(change.vr, change.new or ""))
        else:
            dataset[change.tag].value = value_fromText(change.vr, change.new or "")
