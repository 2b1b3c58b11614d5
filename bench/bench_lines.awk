BEGIN { p = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.,:;!"; for (i = 1; i <= n; i++) printf "%06d %s\n", i, p }
