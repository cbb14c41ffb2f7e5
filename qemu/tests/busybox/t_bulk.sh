# Bulk bytes through pipes and files: a 290 KB pipe, dd from /dev/zero, checksums.
for i in 1 2 3; do echo $i; done | sha256sum
seq 1 50000 | sha256sum
seq 1 50000 > numbers; wc -c numbers; sha256sum numbers; rm numbers
dd if=/dev/zero bs=1024 count=300 2>/dev/null | sha256sum
dd if=/dev/zero bs=4096 count=75 2>/dev/null | wc -c
head -c 300000 /dev/zero | md5sum
seq 1 20000 | awk '{ s += $1 } END { print s }'
yes tempest | head -n 10000 | sort | uniq -c
