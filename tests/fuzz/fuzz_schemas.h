/* fuzz_schemas.h - the writer/reader schema pairs fuzz_decode decodes
 * against (the first input byte picks one), with sample values that
 * gen_corpus.c encodes into the seed corpus. Each pair covers a part of the
 * resolver: identity of every type, evolution (skips, defaults, aliases,
 * promotions), recursion, unions on both sides, enum mapping. */
#ifndef SEAM_FUZZ_SCHEMAS_H
#define SEAM_FUZZ_SCHEMAS_H

struct fuzz_pair {
        const char *writer;
        const char *reader;
        int compare_avro_c; /* identity pair without maps: Avro C's decoder
                               must agree with ours on what we accept */
        const char *samples[3]; /* writer values, JSON, for seeds */
};

#define FUZZ_ALL_TYPES                                                         \
        "{\"type\":\"record\",\"name\":\"All\",\"namespace\":\"t\","           \
        "\"fields\":["                                                         \
        "{\"name\":\"n\",\"type\":\"null\"},"                                  \
        "{\"name\":\"b\",\"type\":\"boolean\"},"                               \
        "{\"name\":\"i\",\"type\":\"int\"},"                                   \
        "{\"name\":\"l\",\"type\":\"long\"},"                                  \
        "{\"name\":\"f\",\"type\":\"float\"},"                                 \
        "{\"name\":\"d\",\"type\":\"double\"},"                                \
        "{\"name\":\"by\",\"type\":\"bytes\"},"                                \
        "{\"name\":\"s\",\"type\":\"string\"},"                                \
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"Suit\","       \
        "\"symbols\":[\"HEARTS\",\"SPADES\",\"CLUBS\"]}},"                     \
        "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"Md5\","      \
        "\"size\":4}},"                                                        \
        "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":\"long\"}},"   \
        "{\"name\":\"m\",\"type\":{\"type\":\"map\",\"values\":\"string\"}},"  \
        "{\"name\":\"u\",\"type\":[\"null\",\"string\",\"Suit\"]},"            \
        "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"Inner\","    \
        "\"fields\":[{\"name\":\"x\",\"type\":\"int\"},"                       \
        "{\"name\":\"tags\",\"type\":{\"type\":\"array\",\"items\":"           \
        "{\"type\":\"map\",\"values\":\"Md5\"}}}]}}]}"

#define FUZZ_ORDER_W                                                           \
        "{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"shop.v1\","   \
        "\"fields\":["                                                         \
        "{\"name\":\"id\",\"type\":\"long\"},"                                 \
        "{\"name\":\"legacy\",\"type\":{\"type\":\"record\",\"name\":\"Old\"," \
        "\"fields\":[{\"name\":\"xs\",\"type\":{\"type\":\"array\",\"items\":" \
        "{\"type\":\"map\",\"values\":[\"null\",\"string\"]}}},"               \
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"OldE\","       \
        "\"symbols\":[\"X\",\"Y\"]}},"                                         \
        "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F3\","       \
        "\"size\":3}},"                                                        \
        "{\"name\":\"fl\",\"type\":\"float\"},"                                \
        "{\"name\":\"db\",\"type\":\"double\"},"                               \
        "{\"name\":\"bo\",\"type\":\"boolean\"},"                              \
        "{\"name\":\"i\",\"type\":\"int\"},"                                   \
        "{\"name\":\"lg\",\"type\":\"long\"},"                                 \
        "{\"name\":\"by\",\"type\":\"bytes\"}]}},"                             \
        "{\"name\":\"f1\",\"type\":\"int\"},"                                  \
        "{\"name\":\"f2\",\"type\":\"long\"},"                                 \
        "{\"name\":\"f3\",\"type\":\"long\"},"                                 \
        "{\"name\":\"name\",\"type\":\"string\"},"                             \
        "{\"name\":\"qty\",\"type\":\"int\"},"                                 \
        "{\"name\":\"price\",\"type\":\"float\"},"                             \
        "{\"name\":\"lines\",\"type\":{\"type\":\"array\",\"items\":"          \
        "{\"type\":\"record\",\"name\":\"Line\",\"fields\":["                  \
        "{\"name\":\"sku\",\"type\":\"string\"},"                              \
        "{\"name\":\"n\",\"type\":\"int\"}]}}}]}"

#define FUZZ_ORDER_R                                                           \
        "{\"type\":\"record\",\"name\":\"Order\",\"namespace\":\"shop.v2\","   \
        "\"fields\":["                                                         \
        "{\"name\":\"id\",\"type\":\"long\"},"                                 \
        "{\"name\":\"customer\",\"type\":\"bytes\",\"aliases\":[\"name\"]},"   \
        "{\"name\":\"qty\",\"type\":\"double\"},"                              \
        "{\"name\":\"f1\",\"type\":\"float\"},"                                \
        "{\"name\":\"f2\",\"type\":\"float\"},"                                \
        "{\"name\":\"f3\",\"type\":\"double\"},"                               \
        "{\"name\":\"price\",\"type\":[\"null\",\"double\"]},"                 \
        "{\"name\":\"lines\",\"type\":{\"type\":\"array\",\"items\":"          \
        "{\"type\":\"record\",\"name\":\"Line\",\"fields\":["                  \
        "{\"name\":\"sku\",\"type\":\"string\"},"                              \
        "{\"name\":\"n\",\"type\":\"long\"},"                                  \
        "{\"name\":\"note\",\"type\":[\"null\",\"string\"],"                   \
        "\"default\":null}]}}},"                                               \
        "{\"name\":\"status\",\"type\":{\"type\":\"enum\",\"name\":\"St\","    \
        "\"symbols\":[\"NEW\",\"DONE\"]},\"default\":\"NEW\"},"                \
        "{\"name\":\"tags\",\"type\":{\"type\":\"map\",\"values\":"            \
        "{\"type\":\"array\",\"items\":\"string\"}},"                          \
        "\"default\":{\"a\":[\"x\",\"y\"]}},"                                  \
        "{\"name\":\"addr\",\"type\":{\"type\":\"record\",\"name\":\"Addr\","  \
        "\"fields\":[{\"name\":\"city\",\"type\":\"string\"},"                 \
        "{\"name\":\"zip\",\"type\":\"string\",\"default\":\"0\"}]},"          \
        "\"default\":{\"city\":\"Paris\"}},"                                   \
        "{\"name\":\"raw\",\"type\":{\"type\":\"fixed\",\"name\":\"R2\","      \
        "\"size\":2},\"default\":\"\\u00ff\\u0001\"}]}"

#define FUZZ_TREE                                                              \
        "{\"type\":\"record\",\"name\":\"Top\",\"fields\":["                   \
        "{\"name\":\"groups\",\"type\":{\"type\":\"map\",\"values\":"          \
        "{\"type\":\"array\",\"items\":{\"type\":\"record\",\"name\":"         \
        "\"Leaf\",\"fields\":[{\"name\":\"k\",\"type\":\"string\"},"           \
        "{\"name\":\"kids\",\"type\":{\"type\":\"array\",\"items\":"           \
        "\"Leaf\"}}]}}}}]}"

#define FUZZ_LIST_W                                                            \
        "{\"type\":\"record\",\"name\":\"Node\",\"fields\":["                  \
        "{\"name\":\"v\",\"type\":\"int\"},"                                   \
        "{\"name\":\"next\",\"type\":[\"null\",\"Node\"]}]}"

#define FUZZ_LIST_R                                                            \
        "{\"type\":\"record\",\"name\":\"Node\",\"fields\":["                  \
        "{\"name\":\"next\",\"type\":[\"null\",\"Node\"]},"                    \
        "{\"name\":\"v\",\"type\":\"double\"},"                                \
        "{\"name\":\"w\",\"type\":\"string\",\"default\":\"w\"}]}"

/* No maps: Avro C's decoder keeps duplicate map keys' old contents, ours
 * resets them, so maps would make the comparison fail on valid input. */
#define FUZZ_FLAT                                                              \
        "{\"type\":\"record\",\"name\":\"Flat\",\"fields\":["                  \
        "{\"name\":\"b\",\"type\":\"boolean\"},"                               \
        "{\"name\":\"i\",\"type\":\"int\"},"                                   \
        "{\"name\":\"l\",\"type\":\"long\"},"                                  \
        "{\"name\":\"f\",\"type\":\"float\"},"                                 \
        "{\"name\":\"d\",\"type\":\"double\"},"                                \
        "{\"name\":\"s\",\"type\":\"string\"},"                                \
        "{\"name\":\"by\",\"type\":\"bytes\"},"                                \
        "{\"name\":\"e\",\"type\":{\"type\":\"enum\",\"name\":\"E\","          \
        "\"symbols\":[\"A\",\"B\",\"C\",\"D\"]}},"                             \
        "{\"name\":\"fx\",\"type\":{\"type\":\"fixed\",\"name\":\"F\","        \
        "\"size\":2}},"                                                        \
        "{\"name\":\"u\",\"type\":[\"null\",\"long\",\"string\",\"E\"]},"      \
        "{\"name\":\"a\",\"type\":{\"type\":\"array\",\"items\":"              \
        "{\"type\":\"array\",\"items\":[\"null\",\"F\"]}}},"                   \
        "{\"name\":\"r\",\"type\":{\"type\":\"record\",\"name\":\"In\","       \
        "\"fields\":[{\"name\":\"z\",\"type\":\"string\"}]}}]}"

#define FUZZ_UNION_W                                                           \
        "[\"null\",\"int\",\"string\",{\"type\":\"record\",\"name\":\"P\","    \
        "\"fields\":[{\"name\":\"x\",\"type\":\"float\"}]},"                   \
        "{\"type\":\"array\",\"items\":[\"int\",\"bytes\"]}]"

#define FUZZ_UNION_R                                                           \
        "[{\"type\":\"array\",\"items\":[\"double\",\"string\"]},"             \
        "{\"type\":\"record\",\"name\":\"P\",\"fields\":["                     \
        "{\"name\":\"x\",\"type\":\"double\"},"                                \
        "{\"name\":\"y\",\"type\":\"int\",\"default\":3}]},"                   \
        "\"long\",\"string\",\"null\"]"

#define FUZZ_ENUM_W                                                            \
        "{\"type\":\"record\",\"name\":\"Ev\",\"fields\":["                    \
        "{\"name\":\"es\",\"type\":{\"type\":\"array\",\"items\":"             \
        "{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":"                   \
        "[\"RED\",\"GREEN\",\"BLUE\",\"PINK\"]}}},"                            \
        "{\"name\":\"fm\",\"type\":{\"type\":\"map\",\"values\":"              \
        "{\"type\":\"fixed\",\"name\":\"Id\",\"size\":3}}}]}"

#define FUZZ_ENUM_R                                                            \
        "{\"type\":\"record\",\"name\":\"Ev\",\"fields\":["                    \
        "{\"name\":\"fm\",\"type\":{\"type\":\"map\",\"values\":"              \
        "{\"type\":\"fixed\",\"name\":\"Id\",\"size\":3}}},"                   \
        "{\"name\":\"es\",\"type\":{\"type\":\"array\",\"items\":"             \
        "{\"type\":\"enum\",\"name\":\"Color\",\"symbols\":"                   \
        "[\"BLUE\",\"OTHER\",\"RED\"],\"default\":\"OTHER\"}}}]}"

static const struct fuzz_pair fuzz_pairs[] = {
    {FUZZ_ALL_TYPES, FUZZ_ALL_TYPES, 0,
     {"{\"n\":null,\"b\":true,\"i\":-5,\"l\":123456789012,\"f\":1.5,"
      "\"d\":-2.5,\"by\":\"\\u00ff\",\"s\":\"str\",\"e\":\"CLUBS\","
      "\"fx\":\"abcd\",\"a\":[1,-1],\"m\":{\"k\":\"v\"},"
      "\"u\":{\"Suit\":\"SPADES\"},\"r\":{\"x\":7,\"tags\":[{\"t\":\"wxyz\"}]}}",
      "{\"n\":null,\"b\":false,\"i\":0,\"l\":0,\"f\":0,\"d\":0,\"by\":\"\","
      "\"s\":\"\",\"e\":\"HEARTS\",\"fx\":\"0000\",\"a\":[],\"m\":{},"
      "\"u\":null,\"r\":{\"x\":0,\"tags\":[]}}",
      NULL}},
    {FUZZ_ORDER_W, FUZZ_ORDER_R, 0,
     {"{\"id\":1,\"legacy\":{\"xs\":[{\"a\":{\"string\":\"b\"},\"c\":null}],"
      "\"e\":\"Y\",\"fx\":\"abc\",\"fl\":1,\"db\":2,\"bo\":true,\"i\":3,"
      "\"lg\":-4,\"by\":\"z\"},\"f1\":16777217,\"f2\":-1099511627777,"
      "\"f3\":9007199254740993,\"name\":\"Ann\",\"qty\":2,\"price\":9.5,"
      "\"lines\":[{\"sku\":\"A-1\",\"n\":1},{\"sku\":\"B-2\",\"n\":-2}]}",
      NULL, NULL}},
    {FUZZ_TREE, FUZZ_TREE, 0,
     {"{\"groups\":{\"g\":[{\"k\":\"a\",\"kids\":[{\"k\":\"b\",\"kids\":[]}]}]"
      ",\"h\":[]}}",
      NULL, NULL}},
    {FUZZ_LIST_W, FUZZ_LIST_R, 0,
     {"{\"v\":1,\"next\":{\"Node\":{\"v\":2,\"next\":{\"Node\":{\"v\":3,"
      "\"next\":null}}}}}",
      NULL, NULL}},
    {FUZZ_FLAT, FUZZ_FLAT, 1,
     {"{\"b\":true,\"i\":1,\"l\":2,\"f\":3,\"d\":4,\"s\":\"s\",\"by\":\"b\","
      "\"e\":\"D\",\"fx\":\"xy\",\"u\":{\"E\":\"B\"},"
      "\"a\":[[null,{\"F\":\"ab\"}],[]],\"r\":{\"z\":\"zz\"}}",
      "{\"b\":false,\"i\":-1,\"l\":-2,\"f\":-3,\"d\":-4,\"s\":\"\","
      "\"by\":\"\",\"e\":\"A\",\"fx\":\"\\u0000\\u0001\","
      "\"u\":{\"string\":\"q\"},\"a\":[],\"r\":{\"z\":\"\"}}",
      NULL}},
    {FUZZ_UNION_W, FUZZ_UNION_R, 0,
     {"{\"P\":{\"x\":0.5}}", "{\"array\":[{\"int\":1},{\"bytes\":\"b\"}]}",
      "{\"string\":\"s\"}"}},
    {FUZZ_ENUM_W, FUZZ_ENUM_R, 0,
     {"{\"es\":[\"RED\",\"GREEN\",\"BLUE\",\"PINK\"],"
      "\"fm\":{\"a\":\"abc\",\"b\":\"def\"}}",
      NULL, NULL}},
};

#define FUZZ_PAIR_COUNT (sizeof(fuzz_pairs) / sizeof(fuzz_pairs[0]))

#endif
