"""The texts of ``--synopsis`` and ``--man``. Pure strings; nothing heavy is imported here."""

from __future__ import annotations

SYNOPSIS: str = """
NAME

    pfdicom_tagSub - rewrite DICOM headers by rules, over a whole directory tree

SYNOPSIS

    pfdicom_tagSub
        -I|--inputDir <inputDir>  -O|--outputDir <outputDir>    (or: <inputDir> <outputDir>)
        [-F|--tagFile <rules.json> | -T|--tagStruct <JSON> | -n|--tagInfo <key,value ++ ...>]
        [--profile basic[,<option>...]]
        [-s|--splitToken <token>] [-k|--splitKeyValue <token>]
        [-i|--inputFile <name>] [-e|--extension <ext>]
        [--fileFilter <tokens>] [--fileFilterLogic AND|OR]
        [-d|--dirFilter <tokens>] [--dirFilterLogic AND|OR]
        [--maxDepth <n>] [--followLinks] [--relativeDir]
        [-o|--outputFileStem <template>] [--outputLeafDir <format with %s>]
        [--removePrivateTags] [--topLevelOnly] [--overwrite]
        [--keyFile <file>] [--dateShiftRange=<min>:<max>]
        [--threads <n> | --dask <tcp://host:port> [--daskTimeout <seconds>]] [--shard <i>/<n>]
        [--dryRun] [--audit <file.sqlite>] [--verify]
        [--json] [--printElapsedTime] [-v|--verbosity <0..5>] [--syslog]
        [-x|--man] [-y|--synopsis] [--version] [-h|--help]

BRIEF EXAMPLES

    pfdicom_tagSub -I /data/in -O /data/anon --profile basic,retainLongModifiedDates --verify

    pfdicom_tagSub -e dcm -I /data/in -O /data/anon --tagStruct '{
        "PatientName":      "%_name|patientID_PatientName",
        "PatientID":        "%_md5|7_PatientID",
        "AccessionNumber":  "%_md5|8_AccessionNumber",
        "PatientBirthDate": "%_strmsk|******01_PatientBirthDate",
        "re:.*hysician":    "%_md5|4_#tag",
        "re:.*stitution":   "#tag",
        "re:.*ddress":      "#tag"
    }' --threads 2 --printElapsedTime
"""

DESCRIPTION: str = r"""
DESCRIPTION

    pfdicom_tagSub walks <inputDir>, reads every file that passes the filters, replaces
    DICOM element values by rules and writes each file to the same relative place under
    <outputDir>. Files that are not DICOM are skipped and named; a file that fails fails
    alone. Everything a rule does not target is kept: transfer syntax, preamble, file meta,
    private elements (unless --removePrivateTags or --profile), pixel data byte for byte.

PROFILE

    --profile basic[,OPTION...] applies PS3.15 Annex E, Table E.1-1 (edition 2024b, 621
    rows, shipped with the tool) to every element a row names, at every depth:
        X   remove (a sequence with its items)
        Z   empty (a sequence: no items left)
        D   a dummy, as %_dummy; PatientID gets the keyed %_hash|16_PatientID; a
            sequence is kept and its items get the profile; binary data is emptied
        U   a keyed UID, as %_uid (references follow; MediaStorageSOPInstanceUID too)
        Z/D, X/D, X/Z/D -> D;  X/Z -> Z;  X/Z/U* -> the sequence kept, its UIDs remapped
        C   (an option's "clean") free text (AE LO LT PN SH ST UC UR UT) emptied; a date
            (DA, DT) shifted per patient as %_dateshift|patientID_#tag; a time kept (a
            whole-day shift leaves it valid); a sequence kept, its items profiled; a
            code string kept; binary data cannot be cleaned: the row's basic action
        K   keep
    Every private element is removed, at every depth, with its creator.

    Options (each changes only the rows of its column, to K or C; where two options
    disagree on a row, C wins), with their CID 7050 codes:
        retainLongFullDates (113106)
            dates and times kept
        retainLongModifiedDates (113107); not with retainLongFullDates
            dates shifted per patient (--dateShiftRange, seeded by PatientID), times kept
        retainUIDs (113110)
            every UID kept
        retainDeviceIdentity (113109)
            device, detector and station names, serial numbers, calibration dates kept;
            AE titles emptied
        retainInstitutionIdentity (113112)
            institution name, address, department, clinical trial site kept
        retainPatientCharacteristics (113108)
            age, sex, size, weight, ethnic group, smoking and pregnancy status kept;
            allergies, pre-medication, special needs, patient state emptied
        cleanDescriptors (113105)
            descriptions, comments, labels (free text) kept present but emptied;
            descriptor sequences kept, their items profiled
        cleanStructuredContent (113104)
            content, acquisition context and specimen preparation sequences kept,
            their items profiled
        cleanGraphics (113103)
            graphic annotations kept, their items profiled; overlay comments and curve
            descriptions emptied; overlay and curve bitmaps removed as by Basic
    An unknown option is exit 2. (Retain Safe Private is not offered: the table does not
    say which private elements are safe; keep one you know with a rule, below.)

    Every output gets PatientIdentityRemoved YES, DeidentificationMethod
    "pfdicom_tagSub <version>: PS3.15 E.1-1 Basic" plus each option (and "with user
    rules (-T/-F/-n)" when rules are given), DeidentificationMethodCodeSequence (CID
    7050: 113100 and one code per option) and LongitudinalTemporalInformationModified
    (REMOVED; UNMODIFIED with retainLongFullDates; MODIFIED with retainLongModifiedDates).

    Rules from -T/-F/-n override the profile element by element, %_keep included:
        --profile basic -T '{"PatientName": "%_name|patientID_PatientName"}'
    A private element a rule keeps stays with its creator element. The profile needs the
    secret key (below); it cannot be combined with --topLevelOnly.

RULES

    A JSON object of "key": "value" pairs, from --tagStruct, --tagFile or --tagInfo. All
    rules are checked before any file is touched; a bad rule ends the run with exit 2.

    Keys
        PatientName         a DICOM keyword (a typo is an error, with suggestions)
        (0010,0020)         an element by its tag, in hex
        (0009,"ACME 1.1",01)  a private element by its creator and element byte, found
                            in each data set's own creator elements (in JSON:
                            "(0009,\"ACME 1.1\",01)")
        re:.*hysician       every keyword in the file that the regex matches from its start

        An explicit key beats a regex; among regexes a %_keep one wins, else the later
        one. Rules apply at every depth of nested sequences (--topLevelOnly: top level
        only). Keys of the file meta (group 0002) are rule errors.

    Values
        text                literal text
        #tag                the keyword of the element being replaced
        %Keyword            that element's value (the longest keyword that matches)
        %_md5|N_Keyword     the first N hex characters of md5(value)
        %_strmsk|MASK_Kw    '*' keeps a character, anything else replaces it
        %_nospc|C_Keyword   runs of non-word characters joined with C
        %_name|seedKw_Kw    a fake name LAST^FIRST^ANON, the same for the same seed
        %_hash|N_Keyword    keyed: first N hex characters of HMAC-SHA256(key, value)
        %_uid|ROOT_Keyword  keyed: each UID value -> ROOT (default 2.25.) + one decimal
                            component, 64 characters; standard UIDs kept; references
                            follow the elements they name
        %_dateshift|ARG_Kw  DA/DT moved by ARG days (-365), or by a keyed offset per
                            seed keyword (patientID, read at the top level) within
                            --dateShiftRange (default -1095:-1); DT keeps its time

        Values are computed from the file as read. A rule whose referenced element is
        absent is not applied to that file. A result that is not valid for the element's
        VR fails the file, which is then not written.

    Actions (the whole value by itself)
        %_remove            delete the element (a sequence with its items), every depth
        %_keep              leave it as it is; beats every regex
        %_dummy             a fixed value of its VR: ANONYMIZED, 19000101 (DA), 000000
                            (TM), 19000101000000 (DT), 000D (AS), 0 (numbers); a UID is
                            remapped as %_uid does
        ""                  empty it

    The secret key (for hash, uid, dateshift with a seed, dummy of a UID)
        --keyFile FILE, else $PFDICOM_TAGSUB_KEY, else $XDG_CONFIG_HOME/pfdicom_tagSub/key
        (~/.config/...), created once with 32 random bytes (64 hex characters), mode 0600,
        and announced on stderr. At least 16 bytes. The same key gives the same values in
        every run and on every machine; it never appears in outputs, logs or the audit.

    --tagInfo
        "PatientName,%_name|patientID_PatientName ++ PatientID,%_md5|7_PatientID"
        items split on --splitToken (default ++), key and value on the first
        --splitKeyValue (default ,).

OUTPUT

    <outputDir>/<relative dir>/<name>; --outputLeafDir 'anon-%s' renames the last directory
    of each output path; --outputFileStem '%_md5|8_PatientID-%InstanceNumber' names each
    file (made one safe name, plus the input's extension). Existing outputs are kept unless
    --overwrite. Outputs appear whole or not at all. -O %inputDir --overwrite works in place.

PREVIEW AND AUDIT

    --dryRun reads and plans every file and writes nothing (no output directory either);
    it prints every change, one line each, "file: path (VR): 'old' -> 'new'  [rule]",
    or, with --json, the plan in the record. It fails a file where a real run would.

    --audit FILE records the run, each file and each change (path, tag, keyword, VR,
    action, old value, new value, rule) in an SQLite database, mode 0600; runs append.
    Its views uid_mapping and patid_mapping pair each original UID and PatientID with
    its replacement:  sqlite3 -csv -header FILE 'select * from uid_mapping'

VERIFY

    --verify searches each output, before it gets its final name, for the original value
    of every element the run changed, emptied or removed: each text value of 4+ characters,
    each person-name component of 3+, dates as written, in the file's character set and in
    UTF-8. It searches every byte: preamble, file meta, every element at every depth,
    private ones included; not pixel, overlay or waveform data (4 bytes match an image too
    often). It does not search for values that identify no one: standard UIDs, numbers
    (DS, IS, binary VRs), CS values, coded entries (CodeValue, CodingSchemeDesignator,
    CodingSchemeVersion, CodeMeaning, ...), private creators. Digits alone match only
    where no digit touches them (a date inside a remapped UID is no hit).

    A hit fails the file, which is not written; its line names the element and whose
    value it holds, never the value:
        IM0001.dcm: not written: --verify: (0009,1001) holds the original PatientID
    The summary and --json count filesVerified and filesVerifyFailed. With --dryRun, the
    bytes a run would write are searched.

SCALE

    --threads N runs N worker processes on this machine (0 or 1: one); without it, one per
    core the process may use (its CPU affinity, capped by a cgroup CPU quota: a container
    limited to 2 CPUs uses 2), no more than the files. --dask tcp://HOST:8786 runs the
    files, in batches, on the workers of that Dask distributed cluster (pip install
    'pfdicom_tagSub[dask]'; the workers need this same version and the same paths, on a
    shared file system); outputs, record and audit are those of a local run. A worker that
    dies has its batch rerun elsewhere. No scheduler or no worker within --daskTimeout
    seconds (default 30): exit 1. --shard I/N processes only the files whose path relative
    to <inputDir> hashes to shard I of N (SHA-256, the same on every machine): N runs, e.g.
    the tasks of a Slurm job array (I = $SLURM_ARRAY_TASK_ID) or the pods of a Kubernetes
    Indexed Job (I = $JOB_COMPLETION_INDEX), process every file once, into one output tree.

EXIT STATUS

    0   every DICOM file was written (or kept because its output exists)
    1   a file failed, or the run could not start
    2   bad arguments, bad rules or a bad profile; nothing was written. A run with no
        rules, no --profile and no --removePrivateTags is exit 2: nothing to de-identify.
    130 interrupted by Ctrl-C, 143 by SIGTERM: "interrupted: N of M files written;
        run again to complete"; every output written so far is whole

    Messages never show element values; --dryRun and -v 5 do, when asked.

VERBOSITY

    0 errors only; 1 start line, summary and progress bar on a terminal; 2 progress bar
    always; 3 also the directories and files found; 5 also a line per file.
"""

MANUAL: str = SYNOPSIS + DESCRIPTION
