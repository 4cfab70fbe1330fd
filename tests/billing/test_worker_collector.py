"""A worker keeps the application's objects out of the garbage collector's rounds (worker.settle_collector): a
billing cycle's chunk makes tens of thousands of objects, and each collection went through the application's too."""
import gc

import worker


def test_a_worker_freezes_the_application_for_the_collector_and_collects_less_often():
    thresholds = gc.get_threshold()
    try:
        worker.settle_collector()
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold() == worker.GC_THRESHOLDS != thresholds
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)
