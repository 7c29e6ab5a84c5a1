# Catalog and filesystem faults (issue 8): the real binary against a broken --db and against
# loop-mounted btrfs/XFS that fill up, go read-only or lose a subvolume mid-run.
foreach(t catalog_fault_test fs_fault_test)
  rdd_add_reliability_test(${t} SOURCES ${t}.cpp LIBS SQLite::SQLite3)
  target_include_directories(${t} PRIVATE ${PROJECT_SOURCE_DIR}/tests/integration ${PROJECT_SOURCE_DIR}/tests/cli)
endforeach()
