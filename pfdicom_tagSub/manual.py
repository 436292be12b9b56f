"""The texts of ``--synopsis`` and ``--man``. Pure strings; nothing heavy is imported here."""

from __future__ import annotations

SYNOPSIS: str = """
NAME

    pfdicom_tagSub - rewrite DICOM headers by rules, over a whole directory tree

SYNOPSIS

    pfdicom_tagSub
        -I|--inputDir <inputDir>  -O|--outputDir <outputDir>    (or: <inputDir> <outputDir>)
        [-F|--tagFile <rules.json> | -T|--tagStruct <JSON> | -n|--tagInfo <key,value ++ ...>]
        [-s|--splitToken <token>] [-k|--splitKeyValue <token>]
        [-i|--inputFile <name>] [-e|--extension <ext>]
        [--fileFilter <tokens>] [--fileFilterLogic AND|OR]
        [-d|--dirFilter <tokens>] [--dirFilterLogic AND|OR]
        [--maxDepth <n>] [--followLinks] [--relativeDir]
        [-o|--outputFileStem <template>] [--outputLeafDir <format with %s>]
        [--removePrivateTags] [--topLevelOnly] [--overwrite] [--threads <n>]
        [--dryRun] [--audit <file.sqlite>]
        [--json] [--printElapsedTime] [-v|--verbosity <0..5>] [--syslog]
        [-x|--man] [-y|--synopsis] [--version] [-h|--help]

BRIEF EXAMPLE

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
    private elements (unless --removePrivateTags), pixel data byte for byte.

RULES

    A JSON object of "key": "value" pairs, from --tagStruct, --tagFile or --tagInfo. All
    rules are checked before any file is touched; a bad rule ends the run with exit 2.

    Keys
        PatientName         a DICOM keyword (a typo is an error, with suggestions)
        re:.*hysician       every keyword in the file that the regex matches from its start

        An explicit key beats a regex; among regexes the later one wins. Rules apply at
        every depth of nested sequences (--topLevelOnly: top level only).

    Values
        text                literal text
        #tag                the keyword of the element being replaced
        %Keyword            that element's value (the longest keyword that matches)
        %_md5|N_Keyword     the first N hex characters of md5(value)
        %_strmsk|MASK_Kw    '*' keeps a character, anything else replaces it
        %_nospc|C_Keyword   runs of non-word characters joined with C
        %_name|seedKw_Kw    a fake name LAST^FIRST^ANON, the same for the same seed

        Values are computed from the file as read. A rule whose referenced element is
        absent is not applied to that file. A result that is not valid for the element's
        VR fails the file, which is then not written.

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

EXIT STATUS

    0   every DICOM file was written (or kept because its output exists)
    1   a file failed, or the run could not start
    2   bad arguments or bad rules; nothing was written
    130 interrupted by Ctrl-C, 143 by SIGTERM: "interrupted: N of M files written;
        run again to complete"; every output written so far is whole

VERBOSITY

    0 errors only; 1 start line, summary and progress bar on a terminal; 2 progress bar
    always; 3 also the directories and files found; 5 also a line per file.
"""

MANUAL: str = SYNOPSIS + DESCRIPTION
