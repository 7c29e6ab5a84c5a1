// Anchors rdd_test_pch: the target exists to build the tests' shared precompiled header.
