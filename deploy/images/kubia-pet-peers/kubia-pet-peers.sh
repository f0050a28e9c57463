#!/bin/sh
# luksa/kubia-pet-peers' server, one HTTP request per connection (nc runs this
# with the connection as stdin and stdout). Like the book's app: POST stores
# the body; GET /data answers the stored data alone (or "No data posted
# yet"); any other GET answers who served it and, for each target of the
# service's SRV records, "- <target>: <its /data>", fetched from the target's
# port 8080, or the error that fetch met.
file=/var/data/kubia.txt
service=${KUBIA_PEERS_SERVICE:-kubia.default.svc.cluster.local}
port=8080
cr=$(printf '\r')
read -r method path version
length=0
while read -r header; do
  header=${header%"$cr"}
  [ -z "$header" ] && break
  case "$header" in
    [Cc]ontent-[Ll]ength:*) length=$(echo "${header#*:}" | tr -d ' ') ;;
  esac
done
host=$(hostname)

stored() {
  if [ -f "$file" ]; then cat "$file"; else printf 'No data posted yet'; fi
}

# The targets of the service's SRV records, one a line, as busybox's nslookup
# prints them ("<name> service = <priority> <weight> <port> <target>"); on
# failure, the error the book's Node.js app reports.
peers() {
  answer=$(nslookup -type=SRV "$service" 2>&1)
  targets=$(echo "$answer" | awk '/service = / { t = $NF; sub(/\.$/, "", t); print t }')
  if [ -n "$targets" ]; then
    echo "$targets"
    return 0
  fi
  case "$answer" in
    *NXDOMAIN*) echo "Error: querySrv ENOTFOUND $service" ;;
    *"timed out"* | *"no servers could be reached"*) echo "Error: querySrv ETIMEOUT $service" ;;
    *) echo "Error: querySrv ENODATA $service" ;;
  esac
  return 1
}

# What the peer's /data answers, or the error as Node.js words it. (busybox's
# own wget -T crashes, hence timeout.)
fetch() {
  if out=$(timeout 5 wget -q -O - "http://$1:$port/data" 2>/tmp/wget.$$); then
    printf '%s' "$out"
  else
    error=$(cat /tmp/wget.$$)
    case "$error" in
      *"bad address"*) printf 'Error: getaddrinfo ENOTFOUND %s' "$1" ;;
      *"Connection refused"*) printf 'Error: connect ECONNREFUSED %s:%s' "$(echo "$error" | sed -n 's/.*(\(.*\)).*/\1/p')" "$port" ;;
      '') printf 'Error: no answer in 5 seconds' ;;
      *) printf 'Error: %s' "${error#wget: }" ;;
    esac
  fi
  rm -f /tmp/wget.$$
}

if [ "$method" = POST ]; then
  head -c "$length" >"$file"
  echo "New data has been received and stored." >&2
  body="Data stored on pod $host
"
elif [ "$path" = /data ]; then
  body=$(stored)
else
  body="You've hit $host
Data stored in the cluster:
"
  if targets=$(peers); then
    for peer in $targets; do
      body="$body- $peer: $(fetch "$peer")
"
    done
  else
    body="${body}Could not look up DNS SRV records: $targets"
  fi
fi
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
  "$(printf '%s' "$body" | wc -c)" "$body"
