# The shell itself: pipelines, substitutions, jobs, lists, redirections.
echo "pipeline: $(echo a b c | wc -w)"
x=$(printf '%s\n' one two three | sort -r | head -n 1); echo "subst: $x"
(sleep 0; exit 4) & wait $!; echo "background job: $?"
a=1; b=2; sleep 0 & sleep 0 & wait; echo "waited for two jobs"
false || echo "or ran"; true && echo "and ran"
echo $((6*7)) $((17 % 5)) $((1 << 10))
case abc in a*) echo "case matched";; *) echo "case missed";; esac
for i in 1 2 3; do printf '%s,' "$i"; done; echo
n=0; while [ $n -lt 5 ]; do n=$((n+1)); done; echo "while: $n"
f() { echo "function got $# args: $*"; return 3; }; f x y; echo "returned $?"
echo stdout; echo stderr 1>&2
{ echo grouped; echo lines; } | wc -l
exec 3> out3; echo "through fd 3" >&3; exec 3>&-; cat out3; rm out3
