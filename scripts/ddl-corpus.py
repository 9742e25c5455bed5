#!/usr/bin/env python3
"""Extracts a corpus of real DDL statements from local sources.

    scripts/ddl-corpus.py [--fixtures DIR] [--mysql-test DIR]
                          [--capture BIN] [--max N] [--fuzz-seeds DIR] OUT

Sources, read at run time and never copied into the repository:

* the DDL events of the fixture binlogs under --fixtures (default
  $SLUICE_FIXTURES, else ../shared/fixtures/binlogs), as
  `bin/sluice-capture --from-file FILE` prints them (the statement and the
  default database it ran in);
* the `.test` files of MariaDB's own test suite, as Debian's mariadb-test
  package installs it (--mysql-test, default /usr/share/mysql/mysql-test):
  the suites main, binlog, versioning, innodb, parts, engines/funcs,
  compat/oracle, gcol and vcol.

Kept are CREATE/ALTER/DROP/RENAME/TRUNCATE TABLE, CREATE/DROP INDEX and
CREATE/ALTER/DROP DATABASE (SCHEMA) statements. A mysqltest statement ends
at the current delimiter (`delimiter` changes it); mysqltest commands
(`--x` lines, `let`, `eval`, `if`, `perl` blocks, ...) and statements with
`$variables` are skipped, as are statements naming the system schemas,
with DATA/INDEX DIRECTORY, or that are not valid UTF-8.

Each source file gives one group: its statements in file order, each with
the default database it runs in (`use db` in a test file, the event's
database in a binlog; "test" by default). Groups are taken in a fixed
order (one file of each source in turn: the binlogs, then the suites in
the order above; files sorted), a group only when it brings a statement not seen in an earlier group (the
text compared after collapsing white space and case), each cut at 40
statements, until --max statements (default 2400) are taken. The output is
therefore deterministic for a given package version and fixture set.

OUT format (read by tests/integration/capture_ddl_corpus.c):

    # comment lines
    G <label>\\n                  a new group (label: the source file)
    S <db> <length>\\n<sql>\\n     a statement of <length> bytes, run with
                                 default database <db>

With --fuzz-seeds DIR, also writes one file per distinct statement into DIR
in the input format of tests/fuzz/fuzz_capture_ddl.c (a flag byte, then
the statement; groups' first statements joined by NUL bytes as well), for
tests/run-fuzz.sh.
"""
import argparse
import hashlib
import json
import os
import re
import subprocess
import sys

SUITES = ["main", "suite/binlog/t", "suite/versioning/t", "suite/innodb/t",
          "suite/parts/t", "suite/engines/funcs/t", "suite/compat/oracle/t",
          "suite/gcol/t", "suite/vcol/t"]
GROUP_MAX = 40

DDL = re.compile(
    r"^(create\s+(or\s+replace\s+)?(temporary\s+)?table"
    r"|create\s+(or\s+replace\s+)?(unique\s+|fulltext\s+|spatial\s+)?index"
    r"|create\s+(or\s+replace\s+)?(database|schema)"
    r"|alter\s+(online\s+|offline\s+)?(ignore\s+)?table"
    r"|alter\s+(database|schema)"
    r"|drop\s+(temporary\s+)?tables?\b|drop\s+index|drop\s+(database|schema)"
    r"|rename\s+tables?\b|truncate\b)", re.I)
SYSTEM = re.compile(r"(?i)(?<![\w$])`?(mysql|sys|information_schema|"
                    r"performance_schema)`?\s*\.")
SYSTEM_DB = re.compile(r"(?i)^(create|alter|drop)\s+(database|schema)\s+"
                       r"(if\s+(not\s+)?exists\s+)?`?(mysql|sys|test|"
                       r"information_schema|performance_schema)`?\s*$")
UNSAFE = re.compile(r"(?i)\$|\b(data|index)\s+directory\b|\bsleep\s*\(|"
                    r"\bbenchmark\s*\(|\bget_lock\s*\(|\bload_file\s*\(|"
                    r"\bconnection\s*=|\bengine\s*=?\s*(connect|federated"
                    r"|spider|s3|mroonga|rocksdb|oqgraph|sphinx)\b")

# mysqltest commands that may appear without the "--" prefix.
COMMANDS = set("""
append_file cat_file change_user character_set chmod connect connection
copy_file copy_files_wildcard dec delimiter die diff_files dirty_close
disable_abort_on_error disable_connect_log disable_info disable_metadata
disable_ps_protocol disable_query_log disable_reconnect disable_result_log
disable_service_connection disable_session_track_info disable_warnings
disconnect echo enable_abort_on_error enable_connect_log enable_info
enable_metadata enable_ps_protocol enable_query_log enable_reconnect
enable_result_log enable_service_connection enable_session_track_info
enable_warnings end end_timer error eval exec execw exit file_exists
horizontal_results if inc let list_files list_files_append_file
list_files_write_file lowercase_result mkdir move_file output perl ping
query query_attributes query_get_value query_horizontal query_vertical
real_sleep reap remove_file remove_files_wildcard replace_column
replace_regex replace_result require result reset_connection rmdir
save_master_pos send send_eval send_quit shutdown_server skip sleep
sorted_result source start_timer sync_slave_with_master sync_with_master
system vertical_results wait_for_slave_to_stop while write_file
""".split())
BLOCK_COMMANDS = ("perl", "write_file", "append_file")


def norm(sql):
    return re.sub(r"\s+", " ", sql.strip()).lower()


def keep(sql, db):
    if not DDL.match(sql) or len(sql) > 16384:
        return False
    if UNSAFE.search(sql) or SYSTEM.search(sql) or SYSTEM_DB.match(sql):
        return False
    return db.lower() not in ("mysql", "sys", "information_schema",
                              "performance_schema")


def strip_comments(sql):
    """Leading comments and white space off (executable comments kept)."""
    while True:
        s = sql.lstrip()
        if s.startswith("/*") and not s.startswith("/*!") and \
                not s.startswith("/*M!"):
            end = s.find("*/")
            if end < 0:
                return ""
            sql = s[end + 2:]
            continue
        if s.startswith("#") or s.startswith("-- "):
            nl = s.find("\n")
            sql = "" if nl < 0 else s[nl + 1:]
            continue
        return s


def test_file_statements(path):
    """(db, sql) of the DDL statements of a mysqltest file, in order."""
    try:
        text = open(path, "rb").read().decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is None:
        # Latin-1 or other bytes somewhere: take only the valid lines.
        raw = open(path, "rb").read().split(b"\n")
        lines = []
        for ln in raw:
            try:
                lines.append(ln.decode("utf-8"))
            except UnicodeDecodeError:
                lines.append("--invalid")
    else:
        lines = text.split("\n")
    out = []
    delim = ";"
    db = "test"
    buf = []
    block_end = None
    expect_error = False
    for line in lines:
        if block_end is not None:
            if line.strip() == block_end:
                block_end = None
            continue
        st = line.strip()
        if not buf:
            if not st or st.startswith("#"):
                continue
            if st.startswith("--"):
                cmd = st[2:].strip().split(None, 1)
                name = cmd[0].lower() if cmd else ""
                if name == "delimiter" and len(cmd) > 1:
                    delim = cmd[1].strip()
                elif name in BLOCK_COMMANDS:
                    m = re.match(r"\S+\s+\S+\s+(\S+)", st[2:].strip())
                    block_end = m.group(1) if (
                        m and name != "perl") else "EOF"
                    if name == "perl" and len(cmd) > 1:
                        block_end = cmd[1].strip() or "EOF"
                elif name == "error":
                    expect_error = True
                continue
            word = re.match(r"[A-Za-z_]+", st)
            w = word.group(0).lower() if word else ""
            if w in ("if", "while") and re.match(r"(?i)(if|while)\s*\(", st):
                continue
            if st in ("{", "}") or st.startswith("}"):
                continue
        buf.append(line)
        joined = "\n".join(buf).rstrip()
        if not joined.endswith(delim):
            continue
        stmt = joined[:len(joined) - len(delim)].strip()
        buf = []
        first = re.match(r"[A-Za-z_]+", stmt)
        w = first.group(0).lower() if first else ""
        if w == "delimiter":
            delim = stmt.split(None, 1)[1].strip() if " " in stmt else delim
            continue
        if w in BLOCK_COMMANDS:
            block_end = "EOF"
            continue
        if w == "error":
            expect_error = True
            continue
        if w in COMMANDS:
            continue
        if w == "use":
            m = re.match(r"(?i)use\s+`?([A-Za-z0-9_]+)`?\s*$", stmt)
            if m:
                db = m.group(1)
            continue
        failing = expect_error
        expect_error = False
        sql = strip_comments(stmt)
        if failing or not keep(sql, db):
            continue
        out.append((db, sql))
    return out


def binlog_files(fixtures):
    for dirpath, dirs, files in os.walk(fixtures):
        dirs.sort()
        for fn in sorted(files):
            p = os.path.join(dirpath, fn)
            try:
                with open(p, "rb") as f:
                    if f.read(4) == b"\xfebin":
                        yield p
            except OSError:
                continue


def binlog_statements(capture, path):
    """(db, sql) of the DDL events `sluice-capture --from-file` prints."""
    try:
        r = subprocess.run([capture, "--from-file", path],
                           stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                           timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    out = []
    for line in r.stdout.splitlines():
        try:
            ev = json.loads(line)
        except ValueError:
            continue
        if ev.get("kind") != "ddl" or ev.get("error_code"):
            continue
        sql = strip_comments(ev.get("sql") or "")
        db = ev.get("db") or "test"
        if "\ufffd" in sql or not re.match(r"^[\w$]+$", db):
            continue
        if keep(sql, db):
            out.append((db, sql))
    return out


def sources(args):
    """Lists of (label, statements), one list per source: the binlogs,
    then each suite."""
    out = []
    fx = args.fixtures
    if fx and os.path.isdir(fx) and os.access(args.capture, os.X_OK):
        out.append([("binlog:" + os.path.relpath(p, fx),
                     binlog_statements(args.capture, p))
                    for p in binlog_files(fx)])
        out[-1] = [g for g in out[-1] if g[1]]
    mt = args.mysql_test
    for suite in SUITES:
        d = os.path.join(mt, suite)
        if not os.path.isdir(d):
            continue
        groups = [(suite + "/" + fn,
                   test_file_statements(os.path.join(d, fn)))
                  for fn in sorted(os.listdir(d)) if fn.endswith(".test")]
        out.append([g for g in groups if g[1]])
    return out


def round_robin(lists):
    """The groups of every source, one of each in turn, so that a --max
    cut takes from all of them."""
    its = [iter(x) for x in lists]
    while its:
        alive = []
        for it in its:
            g = next(it, None)
            if g is not None:
                yield g
                alive.append(it)
        its = alive


def main():
    ap = argparse.ArgumentParser()
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(here)
    ap.add_argument("--fixtures", default=os.environ.get(
        "SLUICE_FIXTURES",
        os.path.join(repo, "..", "shared", "fixtures", "binlogs")))
    ap.add_argument("--mysql-test", default="/usr/share/mysql/mysql-test")
    ap.add_argument("--capture", default=os.path.join(repo, "bin",
                                                      "sluice-capture"))
    ap.add_argument("--max", type=int, default=2400)
    ap.add_argument("--fuzz-seeds")
    ap.add_argument("out")
    args = ap.parse_args()

    seen = set()
    groups = []
    total = 0
    extracted = 0
    for label, stmts in round_robin(sources(args)):
        extracted += len(stmts)
        if total >= args.max or not stmts:
            continue
        stmts = stmts[:GROUP_MAX]
        fresh = [s for s in stmts if norm(s[1]) not in seen]
        if not fresh:
            continue
        for s in stmts:
            seen.add(norm(s[1]))
        stmts = stmts[:args.max - total]
        groups.append((label, stmts))
        total += len(stmts)

    tmp = args.out + ".tmp"
    with open(tmp, "wb") as f:
        f.write(("# DDL corpus from scripts/ddl-corpus.py: %d groups, %d "
                 "statements (%d distinct) of %d extracted\n" %
                 (len(groups), total, len(seen), extracted)).encode())
        for label, stmts in groups:
            f.write(("G %s\n" % label.replace("\n", " ")).encode())
            for db, sql in stmts:
                b = sql.encode("utf-8")
                f.write(("S %s %d\n" % (db, len(b))).encode() + b + b"\n")
    os.replace(tmp, args.out)
    print("ddl-corpus: %d groups, %d statements, %d distinct, %d extracted"
          % (len(groups), total, len(seen), extracted))

    if args.fuzz_seeds:
        write_fuzz_seeds(args.fuzz_seeds, groups)


def write_fuzz_seeds(d, groups):
    """Seeds for fuzz_capture_ddl: flag byte 0x03 (MariaDB, known version)
    or 0x01, then the statement; a group's first statements joined by NUL
    as a multi-statement seed."""
    os.makedirs(d, exist_ok=True)
    n = 0
    done = set()

    def put(data):
        nonlocal n
        name = hashlib.sha1(data).hexdigest()[:16]
        if name in done:
            return
        done.add(name)
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)
        n += 1

    for i, (_, stmts) in enumerate(groups):
        for db, sql in stmts:
            put(b"\x03" + sql.encode("utf-8"))
        first = [s.encode("utf-8") for _, s in stmts[:8]]
        put(bytes([0x01 if i % 2 else 0x03]) + b"\0".join(first))
    print("ddl-corpus: %d fuzz seeds in %s" % (n, d))


if __name__ == "__main__":
    sys.exit(main())
