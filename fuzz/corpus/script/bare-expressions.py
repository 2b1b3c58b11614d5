x = [1]
x
(1)
-2
x[0]
None
