# Files: created, appended, moved, linked and removed; directories; text tools.
printf 'alpha\nbeta\ngamma\n' > f; echo delta >> f; cat f; wc -l < f
grep -n a f
sed 's/a/A/g' f
awk '{ n += length($0) } END { print "chars", n }' f
sort -r f | tr a-z A-Z
cp f f2; cmp f f2 && echo "copies are equal"
mv f g; ls -1; rm g f2; ls -1; echo "after rm: $(ls | wc -l)"
mkdir -p d/e; echo x > d/e/y; find d | sort; rm -r d
ln -s target l; readlink l; rm l
echo data > h; ln h h2; echo more >> h2; cat h; rm h h2
touch empty; [ -f empty ] && [ ! -s empty ] && echo "empty file"; rm empty
mkdir dir; cd dir; pwd | sed 's|.*/||'; cd ..; rmdir dir
head -n 2 "$DATA"; tail -n 1 "$DATA"
cut -d: -f2 "$DATA" | sort | uniq -c
