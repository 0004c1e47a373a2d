"""Alipay mini-program login (alipay.system.oauth.token)."""
