# The line checks of `make lint` (scripts/lint.sh runs this over every
# tracked .c and .h file, with LC_ALL=C.UTF-8 so lengths count characters).
# docs/style.md explains each rule and how to fix what it reports.
#
# Every report is one line, "file:line: what is wrong: what to do", and
# counted under its check's name; the END block prints the counts as
# "lint-count CHECK N" lines for lint.sh, which prints the summary.
#
# Comments and string and character literals are blanked out before the
# code checks, so a URL in a string or "sprintf" in a comment is not a
# finding. The lexer is line based: it knows block comments that span
# lines, and assumes a string literal ends on its line (the tree has no
# backslash-newline inside a literal).

function report(check, file, line, msg) {
    printf "%s:%d: %s\n", file, line, msg
    count[check]++
}

function dirname(path) {
    if (path !~ /\//)
        return "."
    sub(/\/[^\/]*$/, "", path)
    return path
}

function exists(path,    line, ok) {
    ok = (getline line < path) >= 0
    close(path)
    return ok
}

function is_internal_header(path) {
    return path ~ /(^|\/)internal\.h$/ || path ~ /_int\.h$/
}

# Removes __attribute__((...)) from s, parentheses balanced.
function strip_attributes(s,    at, i, depth, c, out) {
    while ((at = index(s, "__attribute__")) > 0) {
        i = at + 13
        while (substr(s, i, 1) == " ")
            i++
        if (substr(s, i, 1) != "(")
            break
        depth = 0
        for (; i <= length(s); i++) {
            c = substr(s, i, 1)
            if (c == "(")
                depth++
            else if (c == ")" && --depth == 0)
                break
        }
        s = substr(s, 1, at - 1) " " substr(s, i + 1)
    }
    return s
}

# The name a file-scope statement declares or defines as a function, or ""
# when it is not a function (a variable, a function pointer, a macro call).
function function_name(s,    name) {
    s = strip_attributes(s)
    if (!match(s, /[A-Za-z_][A-Za-z0-9_]*[ ]*\(/))
        return ""
    if (index(substr(s, 1, RSTART), "=") > 0)
        return ""
    name = substr(s, RSTART, RLENGTH)
    sub(/[ ]*\($/, "", name)
    # A declaration names its return type first; "(" right after the
    # first word is a macro call. "(*" is a function pointer.
    if (substr(s, 1, RSTART - 1) !~ /[A-Za-z_]/)
        return ""
    if (substr(s, RSTART + RLENGTH) ~ /^[ ]*\*/)
        return ""
    if (name ~ /^[A-Z0-9_]+$/ || name ~ /^_/)
        return ""
    return name
}

# Called for a file-scope statement that ends in ";" (is_def 0) or opens a
# body with "{" (is_def 1).
function file_scope_statement(s, line, is_def,    name) {
    gsub(/[ \t]+/, " ", s)
    sub(/^ /, "", s)
    if (s ~ /^(static|typedef|extern|struct|union|enum)[^A-Za-z0-9_]/)
        return
    name = function_name(s)
    if (name == "")
        return
    if (is_def)
        defined[name] = 1
    else if (!(name in proto_line)) {
        proto_line[name] = line
        nproto++
        proto_names[nproto] = name
    }
}

function end_of_file(    i, name) {
    for (i = 1; i <= nproto; i++) {
        name = proto_names[i]
        if (!(name in defined))
            report("prototype", file, proto_line[name],
                   "hand-written prototype of " name "(), which another " \
                   "file defines: include the header that declares it " \
                   "(for a module-internal function, its internal.h)")
        else if (!is_test)
            report("prototype", file, proto_line[name],
                   name "() is declared in this .c file but not static: " \
                   "declare it in its module's header (internal.h when " \
                   "only its module uses it), or make it static")
    }
    delete proto_line
    delete proto_names
    delete defined
    nproto = 0
}

# Returns the line with comments and literals blanked, updating
# in_comment, and reports a // comment.
function strip(s,    out, rest, tok, m) {
    out = ""
    rest = s
    while (rest != "") {
        if (in_comment) {
            m = index(rest, "*/")
            if (m == 0)
                return out
            rest = substr(rest, m + 2)
            out = out " "
            in_comment = 0
            continue
        }
        if (!match(rest, /["']|\/\*|\/\//))
            return out rest
        out = out substr(rest, 1, RSTART - 1)
        tok = substr(rest, RSTART, RLENGTH)
        rest = substr(rest, RSTART + RLENGTH)
        if (tok == "/*") {
            in_comment = 1
        } else if (tok == "//") {
            report("comment", file, FNR,
                   "// comment: write a /* ... */ comment, in full sentences")
            return out
        } else if (tok == "\"") {
            if (match(rest, /^([^"\\]|\\.)*"/))
                rest = substr(rest, RLENGTH + 1)
            else
                rest = ""
            out = out "\"\""
        } else {
            if (match(rest, /^([^'\\]|\\.)*'/))
                rest = substr(rest, RLENGTH + 1)
            else
                rest = ""
            out = out "' '"
        }
    }
    return out
}

BEGIN {
    # libc calls that write without a size: the call, not a member or a
    # longer name (snprintf, fgets).
    UNSAFE = "(^|[^A-Za-z0-9_.>])(sprintf|vsprintf|strcpy|strcat|gets)[ ]*[(]"
}

FNR == 1 {
    if (file != "")
        end_of_file()
    file = FILENAME
    dir = dirname(file)
    is_c = file ~ /\.c$/
    is_test = file ~ /^tests\//
    in_comment = 0
    in_directive = 0
    depth = 0
    stmt = ""
    stmt_line = 0
}

{
    raw = $0
    if (index(raw, "\t") > 0)
        report("tab", file, FNR, "tab character: indent with spaces " \
               "(make format), write \\t inside a string")
    if (raw ~ /\r$/)
        report("whitespace", file, FNR,
               "carriage return: save the file with Unix line ends")
    else if (raw ~ /[ \t]$/)
        report("whitespace", file, FNR, "trailing whitespace: delete it")
    if (length(raw) > 80)
        report("long", file, FNR, length(raw) " columns, over 80: make " \
               "format wraps code and comments; split a long string " \
               "literal into adjacent literals, put a URL on a comment " \
               "line of its own")

    if (raw ~ /^[ ]*#[ ]*include[ ]*"/ && !is_test) {
        inc = raw
        sub(/^[ ]*#[ ]*include[ ]*"/, "", inc)
        sub(/".*/, "", inc)
        if (is_internal_header(inc)) {
            # A bare name is the including file's folder, or lib/ (-Ilib).
            incdir = inc ~ /\// ? dirname(inc) : dir
            if (inc !~ /\// && !exists(dir "/" inc) && exists("lib/" inc))
                incdir = "lib"
            if (incdir != dir)
                report("internal", file, FNR, "includes " inc ", which " \
                       "is internal to " incdir "/: use that module's " \
                       "public header")
        }
    }

    code = strip(raw)

    # Preprocessor lines (and their continuations) are not C statements.
    was_directive = in_directive
    in_directive = (was_directive || code ~ /^[ ]*#/) && code ~ /\\[ ]*$/
    if (was_directive || code ~ /^[ ]*#/)
        next_code = ""
    else
        next_code = code

    s = is_test ? "" : code
    while (match(s, UNSAFE)) {
        fn = substr(s, RSTART, RLENGTH)
        s = substr(s, RSTART + RLENGTH)
        sub(/^[^a-z]/, "", fn)
        sub(/[ ]*\($/, "", fn)
        fix = fn == "sprintf" ? "snprintf, or sl_buf_t" : \
              fn == "vsprintf" ? "vsnprintf" : \
              fn == "gets" ? "fgets" : \
              "memcpy with a checked length, snprintf, or sl_buf_t"
        report("unsafe", file, FNR, fn "() does not check the size of " \
               "its destination: use " fix)
    }

    if (is_c && code ~ /(^|[^A-Za-z0-9_])extern([^A-Za-z0-9_]|$)/)
        report("extern", file, FNR, "extern declaration in a .c file: " \
               "declare it in the owning module's header (internal.h for " \
               "a module-internal function) and include that")

    # Internal names: where each is used, and which internal header
    # declares it.
    s = code
    while (match(s, /(^|[^A-Za-z0-9_])sl__[A-Za-z0-9_]+/)) {
        name = substr(s, RSTART, RLENGTH)
        sub(/^[^s]/, "", name)
        s = substr(s, RSTART + RLENGTH)
        if (is_internal_header(file) && !is_test && !(name in owner))
            owner[name] = dir
        key = file SUBSEP name
        if (!(key in use_line)) {
            use_line[key] = FNR
            users[name]++
        }
    }

    # File-scope statements, for hand-written prototypes in .c files.
    if (is_c && next_code != "") {
        s = next_code
        while (match(s, /[{};]/)) {
            at = RSTART
            c = substr(s, at, 1)
            if (depth == 0) {
                if (stmt == "")
                    stmt_line = FNR
                stmt = stmt " " substr(s, 1, at - 1)
                if (c == ";")
                    file_scope_statement(stmt, stmt_line, 0)
                else if (c == "{")
                    file_scope_statement(stmt, stmt_line, 1)
                stmt = ""
            }
            if (c == "{")
                depth++
            else if (c == "}" && depth > 0)
                depth--
            s = substr(s, at + 1)
        }
        if (depth == 0 && s ~ /[^ ]/) {
            if (stmt == "")
                stmt_line = FNR
            stmt = stmt " " s
        }
    }
}

END {
    if (file != "")
        end_of_file()
    for (key in use_line) {
        split(key, kv, SUBSEP)
        f = kv[1]
        name = kv[2]
        if (f ~ /^tests\//)
            continue
        if (name in owner) {
            if (dirname(f) != owner[name])
                report("internal", f, use_line[key], name " is internal " \
                       "to " owner[name] "/: call that module's public " \
                       "sl_ functions instead")
        } else if (users[name] > 1) {
            report("internal", f, use_line[key], name " is shared " \
                   "between files but declared in no internal header: " \
                   "declare it in its module's internal.h (or " \
                   "<concern>_int.h)")
        }
    }
    for (check in count)
        printf "lint-count %s %d\n", check, count[check]
}
