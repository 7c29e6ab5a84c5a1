# Races and crashes (issue 8): dedup-vol against concurrent writers and rsync; SIGKILL at random
# points of scan-vol and dedup-vol. RDD_RELIABILITY_SCALE multiplies rounds and kill points.
rdd_add_reliability_test(race_test SOURCES race_test.cpp LIBS rdd_catalog)
rdd_add_reliability_test(crash_test SOURCES crash_test.cpp LIBS rdd_catalog)
