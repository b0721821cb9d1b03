"""The dashboard's data: one module per page family, SQL only here.

Every function takes a connection already inside `Database.transaction(claims)` for the
signed-in person, so row-level security decides what each query returns; nothing here checks
a role. `gym_id` arguments narrow to one gym; None means every gym the caller can see.
"""
