# Hostile input (issue 8): names, deep trees, symlinks, special and sparse files, huge
# offsets, hard links, an unprivileged user, filesystems that cannot share, a read-only mount.
rdd_add_reliability_test(hostile_input_test
  SOURCES hostile_names_test.cpp hostile_files_test.cpp hostile_env_test.cpp
  LIBS rdd_test_support)
