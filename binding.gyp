{
  "targets": [
    {
      "target_name": "hashrelay_sha256d",
      "sources": [
        "native/addon.c",
        "native/sha256-portable.c",
        "native/sha256-x86-shani.c",
        "native/sha256-arm-sha2.c",
        "native/sha256-dispatch.c",
        "native/sha256d.c"
      ],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-O3", "-Wall", "-Wextra"],
      "xcode_settings": { "OTHER_CFLAGS": ["-std=gnu11", "-O3"] }
    }
  ]
}
