//! Spreadsheet files through the real `lingong` binary: `post import` of a GBK file of 1,000
//! posts as Excel saves it (Chinese headers, CRLF) is all or nothing and names a bad row by
//! the number a spreadsheet shows it under and its column; `worker import` of a UTF-8 file with
//! a BOM, duplicates refused within the file and against the store; `post export --csv` files
//! (UTF-8 with BOM, or GBK) are mode 0600 and import again at another station; worker and
//! placement exports never carry a clear ID number.

use lingong_tests::{ExcelEncoding, Node, init_chain, write_excel_csv};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Instant;

const POST_HEADER: [&str; 10] = [
    "岗位名称",
    "工种",
    "工资（元）",
    "计薪单位",
    "人数",
    "截止日期",
    "地点",
    "联系方式",
    "说明",
    "范围",
];

/// Row `i` of the 1,000-post file: every post different, dates as Excel writes them, a cell
/// with a comma, one with a quote and, in row 11 of the sheet, a description on two lines.
fn post_row(i: usize) -> Vec<String> {
    let (title, occupation, wage, unit) = match i % 4 {
        0 => ("装卸搬运工", "4-02-05-01", "220", "天"),
        1 => ("家政钟点工", "钟点工", "25", "小时"),
        2 => ("茶叶采摘工", "5-01-02-01", "￥3,500", "月"),
        _ => ("餐厅服务员", "4-03-02-05", "130元", "day"),
    };
    let description = if i == 9 {
        "包午餐，日结\n自带手套".to_string()
    } else {
        format!("第 {} 批，\"旧州\"片区", i / 100 + 1)
    };
    vec![
        format!("{title}（{}号）", i + 1),
        occupation.into(),
        wage.into(),
        unit.into(),
        (1 + i % 5).to_string(),
        "2030/1/15".into(),
        "旧州镇, 乐源社区".into(),
        "张师傅 13800000000".into(),
        description,
        String::new(),
    ]
}

fn count(v: &Value) -> usize {
    v.as_array().expect("a list").len()
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .expect("the file exists")
        .permissions()
        .mode()
        & 0o777
}

#[test]
fn a_gbk_file_of_1000_posts_imports_all_rows_or_none() {
    let dir = tempfile::tempdir().unwrap();
    let village = init_chain(dir.path()).pop().unwrap();
    let mut rows = vec![POST_HEADER.map(String::from).to_vec()];
    rows.extend((0..1000).map(post_row));
    // rows[601] is what a spreadsheet shows as row 602 (the header is row 1; row 11's
    // two-line description is still one row).
    rows[601][2] = "-5".into();
    let file = write_excel_csv(&dir.path().join("posts.csv"), &rows, ExcelEncoding::Gbk);

    let started = Instant::now();
    let failure = village.fail(&["post", "import", &file]);
    eprintln!("refused 1,000 rows in {:?}", started.elapsed());
    assert_eq!(failure.status, 2, "{}", failure.stderr);
    let error = &failure.json["error"];
    assert_eq!(error["code"], "csv", "{error}");
    let bad = error["rows"].as_array().expect("rows");
    assert_eq!(bad.len(), 1, "{error}");
    assert_eq!(bad[0]["row"], 602, "{error}");
    assert_eq!(bad[0]["column"], "工资（元）", "{error}");
    assert_eq!(bad[0]["field"], "wage", "{error}");
    assert!(failure.stderr.contains("row 602"), "{}", failure.stderr);
    assert_eq!(
        count(&village.json(&["post", "list", "--limit", "2000"])),
        0
    );

    rows[601][2] = "150".into();
    let file = write_excel_csv(&dir.path().join("posts.csv"), &rows, ExcelEncoding::Gbk);
    let checked = village.json(&["post", "import", &file, "--dry-run"]);
    assert_eq!(
        (
            &checked["valid"],
            &checked["imported"],
            &checked["encoding"]
        ),
        (&Value::from(1000), &Value::from(0), &Value::from("gbk"))
    );
    assert_eq!(
        count(&village.json(&["post", "list", "--limit", "2000"])),
        0
    );

    let started = Instant::now();
    let done = village.json(&["post", "import", &file]);
    eprintln!("imported 1,000 rows in {:?}", started.elapsed());
    assert_eq!(done["imported"], 1000, "{done}");
    let posts = village.json(&["post", "list", "--limit", "2000"]);
    assert_eq!(count(&posts), 1000);
    let first = posts
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "家政钟点工（10号）")
        .expect("row 11 imported");
    let shown = village.json(&["post", "show", first["id"].as_str().unwrap()]);
    assert_eq!(shown["description"], "包午餐，日结\n自带手套");
    assert_eq!(shown["expires"], "2030-01-15");
    assert_eq!(shown["unit"], "hour");
    assert_eq!(shown["location"], "旧州镇, 乐源社区");

    // The same file again: every row is a post this station already publishes.
    let failure = village.fail(&["post", "import", &file]);
    assert_eq!(
        failure.json["error"]["rows"].as_array().unwrap().len(),
        1000
    );
    assert_eq!(
        count(&village.json(&["post", "list", "--limit", "2000"])),
        1000
    );
}

fn worker_rows(ids: &[String]) -> Vec<Vec<String>> {
    let mut rows = vec![
        [
            "姓名",
            "身份证号",
            "电话",
            "技能",
            "最低工资",
            "标记",
            "可上岗日期",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for (i, id) in ids.iter().enumerate() {
        rows.push(vec![
            format!("劳动者{}", i + 1),
            id.clone(),
            format!("1380000{:04}", i),
            "钟点工、4-02-05-01".into(),
            "120".into(),
            if i % 2 == 0 {
                "older".into()
            } else {
                String::new()
            },
            "2026年3月5日".into(),
        ]);
    }
    rows
}

fn id_number(i: usize) -> String {
    lingong_protocol::id_number::complete_id_number(&format!("522622196{}0101{:03}", i % 10, i))
}

#[test]
fn a_utf8_worker_file_with_a_bom_imports_and_exports_masked() {
    let dir = tempfile::tempdir().unwrap();
    let village = init_chain(dir.path()).pop().unwrap();
    let ids: Vec<String> = (1..=4).map(id_number).collect();

    // The same person twice in the file, and a number a spreadsheet turned into 5.22622E+17.
    let mut twice = ids.clone();
    twice.push(ids[1].clone());
    let mut rows = worker_rows(&twice);
    rows[3][1] = "5.22622E+17".into();
    let file = write_excel_csv(&dir.path().join("bad.csv"), &rows, ExcelEncoding::Utf8Bom);
    let failure = village.fail(&["worker", "import", &file]);
    let bad: Vec<(u64, String)> = failure.json["error"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["column"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        bad,
        vec![(4, "身份证号".into()), (6, "身份证号".into())],
        "{}",
        failure.json
    );
    assert_eq!(count(&village.json(&["worker", "list"])), 0);

    let file = write_excel_csv(
        &dir.path().join("workers.csv"),
        &worker_rows(&ids),
        ExcelEncoding::Utf8Bom,
    );
    let started = Instant::now();
    let done = village.json(&["worker", "import", &file]);
    eprintln!("imported 4 workers in {:?}", started.elapsed());
    assert_eq!(
        (&done["imported"], &done["encoding"]),
        (&Value::from(4), &Value::from("utf-8"))
    );
    let workers = village.json(&["worker", "list"]);
    assert_eq!(count(&workers), 4);
    let w = &workers[0];
    assert_eq!(w["available_from"], "2026-03-05", "{w}");
    assert_eq!(w["skills"].as_array().unwrap().len(), 2, "{w}");

    // Registered already: every row names the person's station record.
    let failure = village.fail(&["worker", "import", &file]);
    let rows = failure.json["error"]["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    assert!(
        rows[0]["message"]
            .as_str()
            .unwrap()
            .contains("already registered")
    );

    // A placement, so that its export has a row.
    let post = village.create_post("装卸搬运工（出口测试）", None, &[]);
    village.json(&["post", "review", &post, "--approve"]);
    let worker = w["id"].as_str().unwrap();
    village.json(&["placement", "confirm", "--post", &post, "--worker", worker]);

    let out = dir.path().join("workers-out.csv");
    let done = village.json(&["worker", "export", "--csv", out.to_str().unwrap()]);
    assert_eq!(done["rows"], 4);
    assert_eq!(mode(&out), 0o600);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.starts_with('\u{feff}'), "a BOM for Excel");
    assert!(text.contains("\r\n"), "CRLF line ends");
    for id in &ids {
        assert!(
            !text.contains(id.as_str()),
            "a clear ID number in the export"
        );
        assert!(!text.contains(&id[..17]));
    }
    assert!(text.contains(w["id_masked"].as_str().unwrap()), "{text}");

    let out = dir.path().join("placements.csv");
    let done = village.json(&["placement", "export", "--csv", out.to_str().unwrap()]);
    assert_eq!(done["rows"], 1);
    assert_eq!(mode(&out), 0o600);
    let text = std::fs::read_to_string(&out).unwrap();
    assert!(text.contains("装卸搬运工（出口测试）") && text.contains(w["name"].as_str().unwrap()));
    assert!(!ids.iter().any(|id| text.contains(id.as_str())));
}

#[test]
fn a_post_export_imports_again_and_opens_as_gbk() {
    let dir = tempfile::tempdir().unwrap();
    let nodes = init_chain(dir.path());
    let (county, township, village) = (&nodes[2], &nodes[3], &nodes[4]);
    let titles = [
        "茶叶采摘工（明前茶）",
        "=1+1 搬运", // a title a spreadsheet would run as a formula
        "保洁员, \"周末\"",
    ];
    for t in titles {
        village.create_post(t, None, &["--description", "包午餐\n日结"]);
    }
    let posts = village.json(&["post", "list"]);

    let out = dir.path().join("posts-utf8.csv");
    let done = village.json(&["post", "export", "--csv", out.to_str().unwrap()]);
    assert_eq!(
        (&done["rows"], &done["encoding"]),
        (&Value::from(3), &Value::from("utf-8"))
    );
    assert_eq!(mode(&out), 0o600);
    let bytes = std::fs::read(&out).unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"));
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(text.contains(",'=1+1 搬运,"), "formula defused: {text}");
    // Every record of the export reads back with the csv crate, columns named as the flags.
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    assert_eq!(&headers[1], "title");
    assert_eq!(reader.records().count(), 3);

    // Round trip: the export imports at another station, the same posts field for field.
    let done = township.json(&["post", "import", out.to_str().unwrap()]);
    assert_eq!(done["imported"], 3, "{done}");
    let again = township.json(&["post", "list"]);
    let key = |v: &Value| {
        let mut rows: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                format!(
                    "{}|{}|{}|{}|{}|{}|{}",
                    p["title"],
                    p["occupation"],
                    p["wage"],
                    p["unit"],
                    p["headcount"],
                    p["reach"],
                    p["expires"]
                )
            })
            .collect();
        rows.sort();
        rows
    };
    assert_eq!(key(&again), key(&posts));
    let one = again
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"] == "=1+1 搬运")
        .expect("the formula-like title came back as typed");
    let shown = township.json(&["post", "show", one["id"].as_str().unwrap()]);
    assert_eq!(shown["description"], "包午餐\n日结");

    // GBK when asked: not UTF-8, reads as GBK, imports (detected) at a third station.
    let out = dir.path().join("posts-gbk.csv");
    let done = village.json(&[
        "post",
        "export",
        "--csv",
        out.to_str().unwrap(),
        "--encoding",
        "gbk",
    ]);
    assert_eq!(done["encoding"], "gbk");
    assert!(done.get("outside_gbk").is_none());
    assert_eq!(mode(&out), 0o600);
    let bytes = std::fs::read(&out).unwrap();
    assert!(std::str::from_utf8(&bytes).is_err(), "GBK, not UTF-8");
    let (text, _, bad) = encoding_rs::GBK.decode(&bytes);
    assert!(!bad && text.contains("茶叶采摘工（明前茶）"), "{text}");
    // The township holds these posts already (imported above): refused as duplicates.
    let failure = township.fail(&["post", "import", out.to_str().unwrap()]);
    assert_eq!(failure.json["error"]["code"], "csv");
    assert_eq!(count(&township.json(&["post", "list"])), 3);
    let done = county.json(&["post", "import", out.to_str().unwrap()]);
    assert_eq!(
        (&done["imported"], &done["encoding"]),
        (&Value::from(3), &Value::from("gbk"))
    );

    // Filters of post list apply; `post export ID --out FILE` still writes the document.
    let out = dir.path().join("one.csv");
    let done = village.json(&[
        "post",
        "export",
        "--csv",
        out.to_str().unwrap(),
        "--limit",
        "1",
    ]);
    assert_eq!(done["rows"], 1);
    let doc = dir.path().join("post.automerge");
    let id = posts[0]["id"].as_str().unwrap();
    let done = village.json(&["post", "export", id, "--out", doc.to_str().unwrap()]);
    assert!(done["bytes"].as_u64().unwrap() > 0);
    assert_eq!(mode(&doc), 0o600);
    let failure = village.fail(&["post", "export", id]);
    assert_eq!(failure.status, 2);
}

#[test]
fn a_bad_header_is_row_1_and_an_undecodable_file_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let node = Node::init(dir.path(), "province", "贵州省零工服务中心", "52");
    lingong_tests::certify(None, &node);
    let rows = vec![
        vec!["title", "occupation", "wgae", "unit"],
        vec!["保洁", "4-09-08-01", "150", "day"],
    ];
    let file = write_excel_csv(&dir.path().join("h.csv"), &rows, ExcelEncoding::Utf8Bom);
    let failure = node.fail(&["post", "import", &file]);
    let got: Vec<(u64, String)> = failure.json["error"]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["column"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (1, "wgae".into()),
            (1, "wage".into()),
            (1, "headcount".into())
        ]
    );
    let path = dir.path().join("broken.csv");
    std::fs::write(&path, b"title,wage\r\nok,1\r\n\x81\x20,2\r\n").unwrap();
    let failure = node.fail(&["post", "import", path.to_str().unwrap()]);
    assert_eq!(
        failure.json["error"]["rows"][0]["row"], 3,
        "{}",
        failure.json
    );
}

/// A valid unified social credit code of an enterprise (91) registered in 黄平县.
fn credit_code(body: &str) -> String {
    use lingong_protocol::credit_code::{check_character, org_check_character};
    let mut code = format!("91522622{body}");
    code.push(org_check_character(body).expect("an organization code body"));
    code.push(check_character(&code).expect("17 characters"));
    code
}

#[test]
fn through_the_daemon_an_employer_file_names_its_bad_rows_and_imports_once() {
    let dir = tempfile::tempdir().unwrap();
    let county = init_chain(dir.path()).swap_remove(2);
    let _daemon = lingong_tests::Daemon::start(&county, lingong_tests::free_port());
    let header = [
        "名称",
        "类型",
        "统一社会信用代码",
        "联系人",
        "电话",
        "地址",
        "核验人",
    ];
    let good = |i: usize| {
        vec![
            format!("黄平县第{i}建筑劳务有限公司"),
            "企业".to_string(),
            credit_code(&format!("MA6H{i:04}")),
            "王经理".into(),
            format!("1390000{i:04}"),
            "黄平县新州镇".into(),
            "李四，营业执照原件".into(),
        ]
    };
    let mut rows = vec![header.map(String::from).to_vec(), good(1), good(2), good(3)];
    rows[2][2] = String::new(); // an enterprise without its credit code
    rows[3][4] = "8888".into(); // not a phone number
    rows.push(good(1)); // the same credit code as row 2
    // UTF-8 without a BOM, named relative to the command's folder.
    let text: String = rows.iter().map(|r| r.join(",") + "\r\n").collect();
    std::fs::write(dir.path().join("employers.csv"), text).unwrap();
    let run = |args: &[&str]| {
        county
            .command()
            .current_dir(dir.path())
            .arg("--json")
            .args(args)
            .output()
            .unwrap()
    };
    let out = run(&["employer", "import", "employers.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let error: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad: Vec<(u64, String)> = error["error"]["rows"]
        .as_array()
        .expect("the rows crossed the daemon's socket")
        .iter()
        .map(|r| {
            (
                r["row"].as_u64().unwrap(),
                r["column"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        bad,
        vec![
            (3, "统一社会信用代码".into()),
            (4, "电话".into()),
            (5, "统一社会信用代码".into())
        ],
        "{error}"
    );
    assert_eq!(count(&county.json(&["employer", "list"])), 0);

    rows[2][2] = credit_code("MA6H0002");
    rows[3][4] = "0855-3921234".into();
    rows.pop();
    let text: String = rows.iter().map(|r| r.join(",") + "\r\n").collect();
    std::fs::write(dir.path().join("employers.csv"), text).unwrap();
    let out = run(&["employer", "import", "employers.csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&done["imported"], &done["encoding"]),
        (&Value::from(3), &Value::from("utf-8"))
    );
    let employers = county.json(&["employer", "list"]);
    assert_eq!(count(&employers), 3);
    assert!(employers[0]["verified"].as_bool().unwrap());
    // Registered once: the same file again is refused row by row.
    let out = run(&["employer", "import", "employers.csv"]);
    assert_eq!(out.status.code(), Some(2));
    let out = run(&[
        "employer",
        "export",
        "--csv",
        "employers-out.csv",
        "--encoding",
        "gbk",
    ]);
    assert!(out.status.success());
    assert_eq!(mode(&dir.path().join("employers-out.csv")), 0o600);
}
