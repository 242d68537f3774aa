# Sourced by bench/all-on.sh with JOURNALED=1: every side's queue and Maildir on a
# journaled ext4, as production file systems are. This machine's root file system is
# ext4 without a journal, and there ext4 skips, at each file creation, every inode freed
# in the last 60-300 s, reading the inode table to find them: a mail queue creates and
# deletes a file per message, so that scan grows with the load and dominates the profile
# (BENCHMARKS.md, issue 20). A 4 GB image on a loop device is bound over /var/tmp (the
# benchmark's work directory, Palisade's data and Postfix's Maildir) and over
# /var/spool/postfix for the run, and everything is put back afterwards.

JOURNALED_DIR=/var/lib/palisade-bench-journaled
JOURNALED_MOUNTS=()

# journaled_start: the image made and mounted, Postfix stopped (postfix-setup.sh starts
# it again on the bound queue directory).
journaled_start() {
  postfix stop >/dev/null 2>&1 || true
  mkdir -p "$JOURNALED_DIR/mnt"
  truncate -s 4G "$JOURNALED_DIR/ext4.img"
  mkfs.ext4 -q -F "$JOURNALED_DIR/ext4.img"
  mount -o loop "$JOURNALED_DIR/ext4.img" "$JOURNALED_DIR/mnt"
  JOURNALED_MOUNTS=("$JOURNALED_DIR/mnt")
  mkdir -p "$JOURNALED_DIR/mnt/var-tmp"
  chmod 1777 "$JOURNALED_DIR/mnt/var-tmp"
  # The shared Postfix setup's Maildir base keeps its owner.
  [ -d /var/tmp/palisade-mail ] && cp -a /var/tmp/palisade-mail "$JOURNALED_DIR/mnt/var-tmp/"
  cp -a /var/spool/postfix "$JOURNALED_DIR/mnt/spool-postfix"
  mount --bind "$JOURNALED_DIR/mnt/var-tmp" /var/tmp
  JOURNALED_MOUNTS=(/var/tmp "${JOURNALED_MOUNTS[@]}")
  mount --bind "$JOURNALED_DIR/mnt/spool-postfix" /var/spool/postfix
  JOURNALED_MOUNTS=(/var/spool/postfix "${JOURNALED_MOUNTS[@]}")
  echo "-- on a journaled ext4: $(findmnt -no SOURCE,FSTYPE "$JOURNALED_DIR/mnt")"
}

# journaled_stop: Postfix stopped (it runs on the bound queue), the mounts undone in
# reverse order (lazily if something still holds one), the image removed.
journaled_stop() {
  postfix stop >/dev/null 2>&1 || true
  local m
  for m in "${JOURNALED_MOUNTS[@]}"; do
    umount "$m" 2>/dev/null || umount -l "$m"
  done
  JOURNALED_MOUNTS=()
  rm -f "$JOURNALED_DIR/ext4.img"
  rmdir "$JOURNALED_DIR/mnt" "$JOURNALED_DIR" 2>/dev/null || true
}
