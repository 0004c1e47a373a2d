"""WeChat mini-program login (code2Session)."""
