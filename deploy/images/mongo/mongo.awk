# The mongo stand-in's collection statements, db.<collection>.<method>(args),
# run by /usr/local/bin/mongo with the statement and its context in the
# environment: MONGO_STATEMENT, MONGO_DB, MONGO_DATA (the data directory),
# MONGO_NOW (seconds since the epoch), MONGO_SEED (random), MONGO_TIME (for
# error lines).
#
# Arguments are JavaScript object literals as people type them in the shell
# ({name:'foo'}, {"n": 1.50, tags: ['a'], when: new Date()}); each document is
# kept as one line in the form find() prints it ({ "_id" : ObjectId("..."),
# "name" : "foo" }), which this parser reads back. Filters match documents
# whose top-level fields equal the filter's ({} matches all); query operators
# ($gt, ...) are refused with an error line.

BEGIN {
  S = ENVIRON["MONGO_STATEMENT"]
  N = length(S)
  P = 1
  DB = ENVIRON["MONGO_DB"]
  DATA = ENVIRON["MONGO_DATA"]
  NOW = ENVIRON["MONGO_NOW"] + 0
  srand(ENVIRON["MONGO_SEED"] + 0)
  # An ObjectId: the time in seconds, five random bytes for this process,
  # and a counter starting at a random value.
  MACHINE = ""
  for (i = 0; i < 5; i++) MACHINE = MACHINE sprintf("%02x", int(rand() * 256))
  COUNTER = int(rand() * 16777216)
  statement()
  exit 0
}

function oid() {
  COUNTER = (COUNTER + 1) % 16777216
  return "ObjectId(\"" sprintf("%08x", NOW) MACHINE sprintf("%06x", COUNTER) "\")"
}

function iso_now(  cmd, t) {
  cmd = "date -u -d @" NOW " +%Y-%m-%dT%H:%M:%S.000Z"
  cmd | getline t
  close(cmd)
  return "ISODate(\"" t "\")"
}

# Error lines, as the shell prints them.
function query_error(msg) {
  printf "%s E QUERY    [thread1] %s\n", ENVIRON["MONGO_TIME"], msg
}

function syntax_error(msg) {
  if (PERR == "") PERR = "SyntaxError: " msg " @(shell):1:" (P - 1)
  return ""
}

function thrown(msg) {
  if (PERR == "") PERR = msg " :\n@(shell):1:1"
  return ""
}

function ws() {
  while (P <= N && index(" \t\r\n", substr(S, P, 1)) > 0) P++
}

function peek() {
  return substr(S, P, 1)
}

function ident(  start) {
  start = P
  if (P <= N && substr(S, P, 1) ~ /[A-Za-z_$]/) {
    P++
    while (P <= N && substr(S, P, 1) ~ /[A-Za-z0-9_$]/) P++
  }
  return substr(S, start, P - start)
}

# One value, in the form the shell prints it. SLOT, when given, records an
# object's top-level fields (KEY[SLOT, i], VAL[SLOT, i], FIELDS[SLOT]) or an
# array's elements (each under SLOT "." i, ITEMS[SLOT] of them).
function value(slot,  c, word) {
  ws()
  c = peek()
  if (c == "{") return object(slot)
  if (c == "[") return array(slot)
  if (c == "'" || c == "\"") return string()
  if (c ~ /[-+0-9.]/) return number()
  word = ident()
  if (word == "") {
    if (c == "") return syntax_error("expected expression, got end of script")
    return syntax_error("expected expression, got '" c "'")
  }
  if (word == "true" || word == "false" || word == "null") return word
  if (word == "new") {
    ws()
    word = ident()
  }
  if (word == "ObjectId" || word == "Date" || word == "ISODate" || word == "NumberInt" || word == "NumberLong")
    return constructor(word)
  return thrown("ReferenceError: " word " is not defined")
}

# ObjectId(), ObjectId("<24 hex digits>"), new Date(), ISODate("..."),
# NumberInt(n), NumberLong(n).
function constructor(word,  arg) {
  ws()
  if (peek() != "(") return syntax_error("missing ( before " word " arguments")
  P++
  ws()
  arg = ""
  if (peek() != ")") {
    arg = value("")
    if (PERR != "") return ""
    ws()
  }
  if (peek() != ")") return syntax_error("missing ) after argument list")
  P++
  if (word == "ObjectId") {
    if (arg == "") return oid()
    if (arg !~ /^"[0-9A-Fa-f]+"$/ || length(arg) != 26)
      return thrown("Error: invalid object id: length")
    return "ObjectId(" tolower(arg) ")"
  }
  if (word == "Date" || word == "ISODate") {
    if (arg == "") return iso_now()
    if (arg !~ /^"/) return thrown("Error: kubelab's mongo stand-in takes dates as strings")
    return "ISODate(" arg ")"
  }
  arg = unquote(arg)
  if (arg !~ /^-?[0-9]+$/) return thrown("Error: " word " takes a whole number")
  return word "(" (arg + 0) ")"
}

function unquote(s) {
  if (s ~ /^".*"$/) return substr(s, 2, length(s) - 2)
  return s
}

function object(slot,  out, n, key, val, c) {
  P++
  if (slot != "") FIELDS[slot] = 0
  ws()
  if (peek() == "}") {
    P++
    return "{ }"
  }
  out = ""
  n = 0
  while (1) {
    ws()
    c = peek()
    if (c == "'" || c == "\"") key = string()
    else if (c ~ /[A-Za-z_$]/) key = "\"" ident() "\""
    else if (c ~ /[0-9]/) key = "\"" number() "\""
    else return syntax_error("missing } after property list")
    if (PERR != "") return ""
    ws()
    if (peek() != ":") return syntax_error("missing : after property id")
    P++
    val = value("")
    if (PERR != "") return ""
    if (slot != "") {
      FIELDS[slot]++
      KEY[slot, FIELDS[slot]] = key
      VAL[slot, FIELDS[slot]] = val
    }
    out = out (n++ ? ", " : "") key " : " val
    ws()
    c = peek()
    if (c == ",") {
      P++
      ws()
      if (peek() == "}") {
        P++
        break
      }
      continue
    }
    if (c == "}") {
      P++
      break
    }
    return syntax_error("missing } after property list")
  }
  return "{ " out " }"
}

function array(slot,  out, n, val, c) {
  P++
  if (slot != "") ITEMS[slot] = 0
  ws()
  if (peek() == "]") {
    P++
    return "[ ]"
  }
  out = ""
  n = 0
  while (1) {
    val = value(slot == "" ? "" : slot "." (n + 1))
    if (PERR != "") return ""
    if (slot != "") {
      ITEMS[slot] = n + 1
      ITEM[slot, n + 1] = val
    }
    out = out (n++ ? ", " : "") val
    ws()
    c = peek()
    if (c == ",") {
      P++
      ws()
      if (peek() == "]") {
        P++
        break
      }
      continue
    }
    if (c == "]") {
      P++
      break
    }
    return syntax_error("missing ] after element list")
  }
  return "[ " out " ]"
}

# A string in single or double quotes, printed in double quotes with JSON's escapes.
function string(  q, out, c, e) {
  q = peek()
  P++
  out = ""
  while (P <= N) {
    c = substr(S, P, 1)
    P++
    if (c == q) return "\"" out "\""
    if (c == "\\") {
      e = substr(S, P, 1)
      P++
      if (e == "n" || e == "t" || e == "r" || e == "b" || e == "f" || e == "u" || e == "\\" || e == "\"") out = out "\\" e
      else out = out e
      continue
    }
    if (c == "\"") {
      out = out "\\\""
      continue
    }
    out = out c
  }
  return syntax_error("unterminated string literal")
}

function number(  start, t, v) {
  start = P
  if (peek() == "-" || peek() == "+") P++
  while (P <= N && substr(S, P, 1) ~ /[0-9.]/) P++
  if (P <= N && substr(S, P, 1) ~ /[eE]/) {
    P++
    if (peek() == "-" || peek() == "+") P++
    while (P <= N && substr(S, P, 1) ~ /[0-9]/) P++
  }
  t = substr(S, start, P - start)
  if (t !~ /^[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/) return syntax_error("missing exponent")
  v = t + 0
  if (v == int(v) && v < 1e15 && v > -1e15) return sprintf("%d", v)
  return sprintf("%.15g", v)
}

# Parses TEXT (a stored document) as a value, recording its fields under SLOT.
function parse(text, slot,  saved_s, saved_n, saved_p, out) {
  saved_s = S
  saved_n = N
  saved_p = P
  S = text
  N = length(text)
  P = 1
  out = value(slot)
  S = saved_s
  N = saved_n
  P = saved_p
  return out
}

# The document DOC (its fields under SLOT) with its _id first, given one if it has none.
function with_id(slot,  i, id, rest) {
  id = ""
  rest = ""
  for (i = 1; i <= FIELDS[slot]; i++) {
    if (KEY[slot, i] == "\"_id\"") id = VAL[slot, i]
    else rest = rest ", " KEY[slot, i] " : " VAL[slot, i]
  }
  if (id == "") id = oid()
  LAST_ID = id
  return "{ \"_id\" : " id rest " }"
}

function id_of(line,  i) {
  PERR = ""
  parse(line, "stored")
  for (i = 1; i <= FIELDS["stored"]; i++)
    if (KEY["stored", i] == "\"_id\"") return VAL["stored", i]
  return ""
}

# Whether the stored LINE has every top-level field of the filter (under "filter").
function matches(line,  i, j, found) {
  if (FIELDS["filter"] == 0) return 1
  PERR = ""
  parse(line, "stored")
  for (i = 1; i <= FIELDS["filter"]; i++) {
    found = 0
    for (j = 1; j <= FIELDS["stored"]; j++) {
      if (KEY["stored", j] == KEY["filter", i] && VAL["stored", j] == VAL["filter", i]) {
        found = 1
        break
      }
    }
    if (!found) return 0
  }
  return 1
}

function load(  line) {
  COUNT = 0
  while ((getline line < FILE) > 0) {
    if (line != "") DOC[++COUNT] = line
  }
  close(FILE)
}

function save(  i, tmp) {
  tmp = FILE ".tmp"
  printf "" > tmp
  for (i = 1; i <= COUNT; i++) {
    if (!(i in GONE)) print DOC[i] > tmp
  }
  close(tmp)
  system("mv '" tmp "' '" FILE "'")
}

function append(line) {
  system("mkdir -p '" DATA "/" DB "'")
  print line >> FILE
  close(FILE)
}

# Inserts the document recorded under SLOT; 1 when done, 0 on a duplicate _id
# (the error then in DUPLICATE).
function insert_one(slot,  doc, i) {
  doc = with_id(slot)
  for (i = 1; i <= COUNT; i++) {
    if (id_of(DOC[i]) == LAST_ID) {
      DUPLICATE = "E11000 duplicate key error collection: " DB "." COLLECTION " index: _id_ dup key: { : " LAST_ID " }"
      gsub(/"/, "\\\"", DUPLICATE)
      return 0
    }
  }
  DOC[++COUNT] = doc
  append(doc)
  return 1
}

# The filter argument (none: {}), recorded under "filter"; 0 after an error line.
function filter(args,  f) {
  if (args == 0) {
    FIELDS["filter"] = 0
    return 1
  }
  f = ARG[1]
  if (f !~ /^\{/) {
    query_error("Error: kubelab's mongo stand-in takes a document as the filter :")
    print "@(shell):1:1"
    return 0
  }
  if (index(f, "\"$") > 0) {
    query_error("Error: kubelab's mongo stand-in matches fields by equality only (no query operators) :")
    print "@(shell):1:1"
    return 0
  }
  PERR = ""
  parse(f, "filter")
  return 1
}

function statement(  names, count, method, args, chain, i, n, done, removed, ids) {
  ws()
  if (substr(S, P, 3) != "db.") {
    query_error("SyntaxError: expected expression @(shell):1:0")
    return
  }
  P += 3
  count = 0
  while (1) {
    names = ident()
    if (names == "") {
      query_error("SyntaxError: missing name after . operator @(shell):1:" (P - 1))
      return
    }
    NAME[++count] = names
    if (peek() != ".") break
    P++
  }
  if (count == 1 && P > N) {
    # db.foo alone names the collection.
    print DB "." NAME[1]
    return
  }
  method = NAME[count]
  COLLECTION = NAME[1]
  for (i = 2; i < count; i++) COLLECTION = COLLECTION "." NAME[i]
  FILE = DATA "/" DB "/" COLLECTION
  ws()
  if (peek() != "(") {
    query_error("Error: kubelab's mongo stand-in runs methods only, as db." COLLECTION "." method "(...) :")
    print "@(shell):1:1"
    return
  }
  P++
  args = 0
  ws()
  if (peek() == ")") P++
  else {
    while (1) {
      PERR = ""
      args++
      ARG[args] = value("arg" args)
      if (PERR != "") {
        query_error(PERR)
        return
      }
      ws()
      if (peek() == ",") {
        P++
        continue
      }
      if (peek() == ")") {
        P++
        break
      }
      query_error("SyntaxError: missing ) after argument list @(shell):1:" (P - 1))
      return
    }
  }
  # A chained call: find(...).count().
  chain = ""
  ws()
  if (peek() == ".") {
    P++
    chain = ident()
    ws()
    if (substr(S, P, 2) != "()") {
      query_error("SyntaxError: missing ) after argument list @(shell):1:" (P - 1))
      return
    }
    P += 2
    ws()
  }
  if (P <= N) {
    query_error("SyntaxError: missing ; before statement @(shell):1:" (P - 1))
    return
  }
  if (chain != "" && !(method == "find" && chain == "count")) {
    query_error("TypeError: db." COLLECTION "." method "(...)." chain " is not a function :")
    print "@(shell):1:1"
    return
  }

  load()
  if (method == "insert" || method == "insertOne" || method == "insertMany") {
    if (args == 0 || (ARG[1] !~ /^[\{\[]/)) {
      query_error("Error: no object passed to insert! :")
      print "@(shell):1:1"
      return
    }
    if (method == "insertMany" && ARG[1] !~ /^\[/) {
      query_error("TypeError: documents.map is not a function :")
      print "@(shell):1:1"
      return
    }
    if (method == "insertOne" && ARG[1] ~ /^\[/) {
      query_error("Error: operation passed in cannot be an Array :")
      print "@(shell):1:1"
      return
    }
    if (ARG[1] ~ /^\{/) {
      if (!insert_one("arg1")) {
        if (method == "insert") {
          print "WriteResult({"
          print "\t\"nInserted\" : 0,"
          print "\t\"writeError\" : {"
          print "\t\t\"code\" : 11000,"
          print "\t\t\"errmsg\" : \"" DUPLICATE "\""
          print "\t}"
          print "})"
        } else {
          query_error("WriteError({")
          print "\t\"index\" : 0,"
          print "\t\"code\" : 11000,"
          print "\t\"errmsg\" : \"" DUPLICATE "\","
          print "\t\"op\" : " ARG[1]
          print "})"
        }
        return
      }
      if (method == "insert") {
        print "WriteResult({ \"nInserted\" : 1 })"
      } else {
        print "{"
        print "\t\"acknowledged\" : true,"
        print "\t\"insertedId\" : " LAST_ID
        print "}"
      }
      return
    }
    # An array: every document, in order, until a duplicate _id.
    done = 0
    ids = ""
    for (i = 1; i <= ITEMS["arg1"]; i++) {
      if (ITEM["arg1", i] !~ /^\{/) {
        query_error("Error: kubelab's mongo stand-in inserts documents only :")
        print "@(shell):1:1"
        return
      }
      if (!insert_one("arg1." i)) break
      done++
      ids = ids (ids == "" ? "" : ",\n") "\t\t" LAST_ID
    }
    if (done < ITEMS["arg1"]) {
      query_error("BulkWriteError({")
      print "\t\"writeErrors\" : ["
      print "\t\t{"
      print "\t\t\t\"index\" : " done ","
      print "\t\t\t\"code\" : 11000,"
      print "\t\t\t\"errmsg\" : \"" DUPLICATE "\""
      print "\t\t}"
      print "\t],"
      print "\t\"nInserted\" : " done
      print "})"
      return
    }
    if (method == "insert") {
      print "BulkWriteResult({"
      print "\t\"writeErrors\" : [ ],"
      print "\t\"writeConcernErrors\" : [ ],"
      print "\t\"nInserted\" : " done ","
      print "\t\"nUpserted\" : 0,"
      print "\t\"nMatched\" : 0,"
      print "\t\"nModified\" : 0,"
      print "\t\"nRemoved\" : 0,"
      print "\t\"upserted\" : [ ]"
      print "})"
    } else {
      print "{"
      print "\t\"acknowledged\" : true,"
      if (ids == "") print "\t\"insertedIds\" : [ ]"
      else {
        print "\t\"insertedIds\" : ["
        print ids
        print "\t]"
      }
      print "}"
    }
    return
  }
  if (method == "find" || method == "count") {
    if (!filter(args)) return
    n = 0
    for (i = 1; i <= COUNT; i++) {
      if (matches(DOC[i])) {
        n++
        if (method == "find" && chain == "") print DOC[i]
      }
    }
    if (method == "count" || chain == "count") print n
    return
  }
  if (method == "remove" || method == "deleteOne" || method == "deleteMany") {
    if (method == "remove" && args == 0) {
      query_error("Error: remove needs a query :")
      print "@(shell):1:1"
      return
    }
    if (args == 0) {
      query_error("Error: kubelab's mongo stand-in needs a filter for " method " :")
      print "@(shell):1:1"
      return
    }
    if (!filter(args)) return
    removed = 0
    for (i = 1; i <= COUNT; i++) {
      if (matches(DOC[i])) {
        GONE[i] = 1
        removed++
        if (method == "deleteOne") break
      }
    }
    if (removed > 0) save()
    if (method == "remove") print "WriteResult({ \"nRemoved\" : " removed " })"
    else print "{ \"acknowledged\" : true, \"deletedCount\" : " removed " }"
    return
  }
  if (method == "drop") {
    if (COUNT > 0 || system("[ -e '" FILE "' ]") == 0) {
      system("rm -f '" FILE "'")
      print "true"
    } else print "false"
    return
  }
  query_error("TypeError: db." COLLECTION "." method " is not a function :")
  print "@(shell):1:1"
}
