module github.com/yoyaku-oss/yoyaku/sdk

go 1.26.8
