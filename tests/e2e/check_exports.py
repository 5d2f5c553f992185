#!/usr/bin/env python3
"""check_exports.py - an independent validator of CRM exports (EXPORTS.md).

Written from EXPORTS.md alone, sharing no code with crmetl or the fixture
generator, so that the two can check each other. Python 3 standard library.

    check_exports.py [--canonical] [--manifest BAD_ROWS_CSV] PATH...
    check_exports.py --dump FILE

PATH is a directory (every <entity>.csv, <entity>.csv.gz and <entity>.xml in
it) or a file named after its entity (orders.csv, tickets.xml, ...). Every
rejected record is printed to stdout as `file,line,reason` (line: the
physical line the record starts on, header = 1; for XML the line of the
record's start tag), sorted by file then line. Exit 0 when no record is
rejected, 1 otherwise, 2 on bad usage or an unreadable file.

--canonical   headers must be exactly the canonical field names in order.
--manifest F  compare the rejections of the .csv files with F (a
              bad-rows.csv: file,line,reason); exit 0 when they are equal.
--dump FILE   print FILE's records as JSON arrays of the canonical fields
              (missing = ""), one a line, without validating: for comparing
              a CSV with its XML or gzip copy.

Rules: required fields (R) non-empty; ids at most 64 bytes; timestamps and
dates by the grammar of EXPORTS.md; money `-?digits[.1-4 digits]`; scores
integers, NPS 0-10, CSAT 1-5; enumerations exact; interaction kinds words;
a survey, ticket, interaction or lead with a non-empty customer_id must name
a customer of a valid customers row. Only the first problem of a record is
reported. Reasons:

  field_count missing_required id_length enum word score_type score_range
  money_separator money_currency money_space money_fraction money_invalid
  ts_basic ts_one_digit ts_hour24 ts_second60 ts_offset_colon
  ts_offset_range ts_range ts_invalid unknown_customer header record
"""

import csv
import gzip
import io
import json
import os
import re
import sys
import xml.parsers.expat

ID, TEXT, DATE, TS, MONEY, INT, ENUM, WORD = range(8)

# entity -> (record element, [(field, type, required, enum values)])
SCHEMA = {
    "customers": ("customer", [
        ("customer_id", ID, True, None), ("signup_date", DATE, True, None),
        ("channel", TEXT, False, None), ("region", TEXT, False, None),
        ("tier", TEXT, False, None), ("referred_by", ID, False, None),
        ("churn_date", DATE, False, None)]),
    "orders": ("order", [
        ("order_id", ID, True, None), ("customer_id", ID, True, None),
        ("ordered_at", TS, True, None), ("amount", MONEY, True, None),
        ("cost", MONEY, False, None),
        ("status", ENUM, False, ("completed", "refunded", "cancelled"))]),
    "spend": ("spend", [
        ("date", DATE, True, None), ("channel", TEXT, True, None),
        ("purpose", ENUM, True, ("acquisition", "retention")),
        ("amount", MONEY, True, None)]),
    "surveys": ("survey", [
        ("response_id", ID, True, None), ("customer_id", ID, False, None),
        ("responded_at", TS, True, None), ("kind", ENUM, True, ("nps", "csat")),
        ("score", INT, True, None)]),
    "tickets": ("ticket", [
        ("ticket_id", ID, True, None), ("customer_id", ID, True, None),
        ("opened_at", TS, True, None), ("first_response_at", TS, False, None),
        ("resolved_at", TS, False, None),
        ("kind", ENUM, True, ("complaint", "request", "question"))]),
    "interactions": ("interaction", [
        ("customer_id", ID, True, None), ("occurred_at", TS, True, None),
        ("kind", WORD, True, None)]),
    "leads": ("lead", [
        ("lead_id", ID, True, None),
        ("stage", ENUM, True, ("lead", "mql", "sql", "opportunity", "won", "lost")),
        ("stage_at", TS, True, None), ("channel", TEXT, False, None),
        ("customer_id", ID, False, None)]),
}
ORDER = ["customers", "orders", "spend", "surveys", "tickets", "interactions", "leads"]
NEEDS_KNOWN_CUSTOMER = ("surveys", "tickets", "interactions", "leads")

TS_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
                   r"(?:[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?"
                   r"(Z|[+-]([0-9]{2}):([0-9]{2}))?)?")
BASIC_RE = re.compile(r"[0-9]{8}")
NOCOLON_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"
                        r"(?:\.[0-9]+)?[+-][0-9]{4}")
LOOSE_RE = re.compile(r"[0-9]{1,4}-[0-9]{1,2}-[0-9]{1,2}"
                      r"(?:[T ][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?"
                      r"(?:Z|[+-][0-9]{1,2}:?[0-9]{2})?)?")
MONEY_RE = re.compile(r"-?[0-9]+(?:\.[0-9]{1,4})?")
FRAC_RE = re.compile(r"-?[0-9]+\.[0-9]{5,}")
INT_RE = re.compile(r"-?[0-9]+")
WORD_RE = re.compile(r"[A-Za-z0-9_]+")
MDAYS = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def leap(y):
    return y % 4 == 0 and (y % 100 != 0 or y % 400 == 0)


def check_time(v):
    """None when v is a valid date or timestamp, else the reason."""
    m = TS_RE.fullmatch(v)
    if not m:
        if BASIC_RE.match(v):
            return "ts_basic"
        if NOCOLON_RE.fullmatch(v):
            return "ts_offset_colon"
        if LOOSE_RE.fullmatch(v):
            return "ts_one_digit"
        return "ts_invalid"
    y, mo, d = int(m.group(1)), int(m.group(2)), int(m.group(3))
    if not 1 <= mo <= 12 or not 1 <= d <= (29 if mo == 2 and leap(y) else MDAYS[mo - 1]):
        return "ts_range"
    if m.group(4) is not None:
        h, mi, s = int(m.group(4)), int(m.group(5)), int(m.group(6))
        if h >= 24:
            return "ts_hour24"
        if mi >= 60:
            return "ts_range"
        if s >= 60:
            return "ts_second60"
        if m.group(8) is not None and (int(m.group(8)) >= 24 or int(m.group(9)) >= 60):
            return "ts_offset_range"
    return None


def check_money(v):
    if MONEY_RE.fullmatch(v):
        return None
    if "," in v:
        return "money_separator"
    if any(c in v for c in "$€£¥") or re.search(r"[A-Za-z]", v):
        return "money_currency"
    if any(c.isspace() for c in v):
        return "money_space"
    if FRAC_RE.fullmatch(v):
        return "money_fraction"
    return "money_invalid"


def check_record(entity, values, known):
    """First problem of a record (dict field -> text) or None."""
    fields = SCHEMA[entity][1]
    for name, typ, req, enum in fields:
        v = values.get(name, "")
        if v == "":
            if req:
                return "missing_required"
            continue
        if typ == ID and len(v.encode("utf-8")) > 64:
            return "id_length"
        if typ in (DATE, TS):
            r = check_time(v)
            if r:
                return r
        elif typ == MONEY:
            r = check_money(v)
            if r:
                return r
        elif typ == INT and not INT_RE.fullmatch(v):
            return "score_type"
        elif typ == ENUM and v not in enum:
            return "enum"
        elif typ == WORD and not WORD_RE.fullmatch(v):
            return "word"
    if entity == "surveys":
        score = int(values["score"])
        lo, hi = (0, 10) if values["kind"] == "nps" else (1, 5)
        if not lo <= score <= hi:
            return "score_range"
    if entity in NEEDS_KNOWN_CUSTOMER and known is not None:
        c = values.get("customer_id", "")
        if c and c not in known:
            return "unknown_customer"
    return None


def entity_of(path):
    base = os.path.basename(path)
    for suffix in (".csv.gz", ".csv", ".xml.gz", ".xml"):
        if base.endswith(suffix) and base[:-len(suffix)] in SCHEMA:
            return base[:-len(suffix)]
    return None


def open_text(path):
    raw = open(path, "rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.open(raw, "rt", encoding="utf-8-sig", newline="")
    raw.seek(0)
    return io.TextIOWrapper(raw, encoding="utf-8-sig", newline="")


def read_csv(path, entity, canonical, problems):
    """Yield (line, dict or None for a wrong field count)."""
    names = [f[0] for f in SCHEMA[entity][1]]
    required = [f[0] for f in SCHEMA[entity][1] if f[2]]
    with open_text(path) as fh:
        rd = csv.reader(fh, strict=True)
        try:
            header = next(rd)
        except StopIteration:
            problems.append((1, "header"))
            return
        if (canonical and header != names) or any(r not in header for r in required) \
                or len(set(header)) != len(header):
            problems.append((1, "header"))
            return
        prev = rd.line_num
        for row in rd:
            start = prev + 1
            prev = rd.line_num
            if len(row) != len(header):
                yield start, None
                continue
            yield start, {h: v for h, v in zip(header, row) if h in names}


def read_xml(path, entity, problems):
    """Yield (line, dict or None for a record of the wrong element)."""
    record = SCHEMA[entity][0]
    names = set(f[0] for f in SCHEMA[entity][1])
    out = []
    state = {"depth": 0, "cur": None, "field": None, "text": [], "line": 0}
    p = xml.parsers.expat.ParserCreate()

    def start(tag, attrs):
        state["depth"] += 1
        d = state["depth"]
        if d == 1:
            if tag != "export" or attrs.get("entity", entity) != entity:
                problems.append((p.CurrentLineNumber, "header"))
        elif d == 2:
            state["line"] = p.CurrentLineNumber
            state["cur"] = {k: v for k, v in attrs.items() if k in names} if tag == record else None
            state["bad"] = tag != record
        elif d == 3:
            state["field"] = tag
            state["text"] = []

    def end(tag):
        d = state["depth"]
        if d == 3 and state["cur"] is not None and state["field"] in names:
            state["cur"][state["field"]] = "".join(state["text"])
        elif d == 2:
            out.append((state["line"], None if state["bad"] else state["cur"]))
        state["depth"] -= 1

    def chars(data):
        if state["depth"] == 3:
            state["text"].append(data)

    p.StartElementHandler = start
    p.EndElementHandler = end
    p.CharacterDataHandler = chars
    with open(path, "rb") as fh:
        data = fh.read()
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    p.Parse(data, True)
    for item in out:
        yield item


def read_records(path, entity, canonical, problems):
    base = os.path.basename(path)
    if base.endswith(".xml") or base.endswith(".xml.gz"):
        return read_xml(path, entity, problems)
    return read_csv(path, entity, canonical, problems)


def collect(paths):
    files = []
    for p in paths:
        if os.path.isdir(p):
            for name in sorted(os.listdir(p)):
                if entity_of(name):
                    files.append(os.path.join(p, name))
        elif entity_of(p):
            files.append(p)
        else:
            sys.exit("check_exports: cannot tell the entity of '%s'" % p)
    # customers first: they decide which customer ids are known
    return sorted(files, key=lambda f: (ORDER.index(entity_of(f)), os.path.basename(f)))


def validate(files, canonical):
    known = None
    rejected = []
    counts = {}
    for path in files:
        entity = entity_of(path)
        base = os.path.basename(path)
        problems = []
        n = 0
        valid_ids = set()
        for line, rec in read_records(path, entity, canonical, problems):
            n += 1
            if rec is None:
                problems.append((line, "field_count" if base.find(".csv") >= 0 else "record"))
                continue
            r = check_record(entity, rec, known)
            if r:
                problems.append((line, r))
            elif entity == "customers":
                valid_ids.add(rec["customer_id"])
        if entity == "customers":
            known = (known or set()) | valid_ids
        counts[base] = n
        rejected += [(base, line, reason) for line, reason in problems]
    rejected.sort(key=lambda r: (r[0], r[1]))
    return rejected, counts


def read_manifest(path):
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows or rows[0] != ["file", "line", "reason"]:
        sys.exit("check_exports: '%s' is not a bad-rows manifest" % path)
    return [(r[0], int(r[1]), r[2]) for r in rows[1:]]


def dump(path):
    entity = entity_of(path)
    if not entity:
        sys.exit("check_exports: cannot tell the entity of '%s'" % path)
    names = [f[0] for f in SCHEMA[entity][1]]
    problems = []
    out = sys.stdout
    for _, rec in read_records(path, entity, False, problems):
        if rec is not None:
            out.write(json.dumps([rec.get(n, "") for n in names], ensure_ascii=False) + "\n")
    return 1 if problems else 0


def main(argv):
    canonical = False
    manifest = None
    paths = []
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--canonical":
            canonical = True
        elif a == "--manifest" and i + 1 < len(argv):
            i += 1
            manifest = argv[i]
        elif a == "--dump" and i + 1 < len(argv):
            return dump(argv[i + 1])
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        elif a.startswith("-"):
            print("check_exports: unknown option '%s'" % a, file=sys.stderr)
            return 2
        else:
            paths.append(a)
        i += 1
    if not paths:
        print("check_exports: no files given", file=sys.stderr)
        return 2
    try:
        rejected, counts = validate(collect(paths), canonical)
    except (OSError, csv.Error, xml.parsers.expat.ExpatError, UnicodeDecodeError) as e:
        print("check_exports: cannot read: %s" % e, file=sys.stderr)
        return 2
    for f, line, reason in rejected:
        print("%s,%d,%s" % (f, line, reason))
    print("check_exports: %d records in %d files, %d rejected"
          % (sum(counts.values()), len(counts), len(rejected)), file=sys.stderr)
    if manifest is None:
        return 1 if rejected else 0
    want = set(read_manifest(manifest))
    got = set(r for r in rejected if r[0].endswith(".csv"))
    for r in sorted(want - got):
        print("check_exports: listed in the manifest, not rejected: %s,%d,%s" % r, file=sys.stderr)
    for r in sorted(got - want):
        print("check_exports: rejected, not in the manifest: %s,%d,%s" % r, file=sys.stderr)
    return 0 if want == got else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
