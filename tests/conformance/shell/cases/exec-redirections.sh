# `exec` that opens, moves and closes descriptors, and a last `exec` of another program.
exec 3>out3.txt
echo "to fd 3" >&3
exec 3>&-
exec 4<out3.txt
read -r back <&4
echo "read back: $back"
exec 4<&-
exec 5>&1 1>out1.txt
echo "stdout went to a file"
exec 1>&5 5>&-
cat out1.txt
exec 6<&0 0<out3.txt
cat
exec 0<&6 6<&-
read -r line; echo "stdin restored: $line"
{ echo "to stderr through 2>&1" >&2; } 2>&1
if (exec 7<missing.txt) 2>/dev/null; then echo opened; else echo "exec of a missing file failed"; fi
# (listed into a file: in a pipeline the shell would hold the pipe's descriptors meanwhile)
ls /proc/$$/fd >fds.txt
echo "the shell's descriptors:" $(sort -n fds.txt)
exec cat
