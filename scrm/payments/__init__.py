"""Payment channels: WeChat Pay's red packets from WeCom (企业红包) and 商家转账 behind one adapter, and a sandbox of their own."""
