#!/bin/sh
# luksa/kubia-pet's server, one HTTP request per connection (nc runs this with
# the connection as stdin and stdout): POST stores the body in
# /var/data/kubia.txt; any other method answers who served it and what it stores.
file=/var/data/kubia.txt
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
if [ "$method" = POST ]; then
  head -c "$length" >"$file"
  echo "New data has been received and stored." >&2
  body="Data stored on pod $host
"
else
  if [ -f "$file" ]; then data=$(cat "$file"); else data="No data posted yet"; fi
  body="You've hit $host
Data stored on this pod: $data
"
fi
printf 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' \
  "$(printf '%s' "$body" | wc -c)" "$body"
