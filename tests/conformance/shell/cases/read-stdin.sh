# `read` and children that read the case's standard input in turns.
read -r first
echo "first: $first"
read -r second
echo "second: $second"
read -r third
echo "third: $third"
sh -c 'read -r fourth; echo "fourth, read by a child shell: $fourth"'
dd bs=1 count=4 2>/dev/null
echo
cat >rest.txt
wc -l <rest.txt
