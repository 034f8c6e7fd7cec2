"""Operations on runs and stores: doctor, rewinding a run to before a chapter,
migrating a run's store, and publishing (the publish folder and its gate).
"""
