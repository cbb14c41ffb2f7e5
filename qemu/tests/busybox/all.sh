# all.sh SCRIPTS WORK: runs every t_*.sh of SCRIPTS in WORK, in name order, each headed by
# its name and followed by its exit status. The same on the host and on Tempest.
export DATA="$1/data.txt"
for s in "$1"/t_*.sh; do
  echo "== ${s##*/}"
  (cd "$2" && sh "$s")
  echo "== exit $?"
done
