"""<Partner name>: <one line on what the adapter does>. (Copied from integrations/_template.)"""
