# Pipelines that read the case's standard input (a pipe) and pass data between children.
cat | tr a-z A-Z
echo hi | sh -c 'cat; true'
echo hi | bash -c 'cat; true'
printf 'b\na\nc\nb\n' | sort | uniq -c | sed 's/^ *//'
yes conformance | head -n 3
seq 1 20000 | tail -n 1
seq 1 200000 | cat | cat | wc -l
printf 'x y\n' | { read -r first second; echo "$second $first"; }
echo "status of a failing middle: $(false | true; echo $?)"
