//! `--help` in Chinese: under `--lang zh` (or, without `--lang`, a `LANG` starting with `zh`)
//! every command's about and every flag's help line come from [`TABLE`] below, and clap's
//! headings from a Chinese help template (用法 / 命令 / 参数 / 选项). The words are the ones the
//! web console uses (岗位、劳动者、用工主体、审核、匹配、推送、上岗、帮扶、投诉、名录、成效表、
//! 督查、审计、备份…), so an operator reads the same thing at the terminal and in the browser.
//!
//! How it is applied: [`localize`] rewrites `Cli::command()` before it parses (clap 4:
//! `about`, `mut_args`, `mut_subcommands`, `help_template`); parsing is unchanged, only the
//! text of the help differs. What clap writes itself (its own `--help`/`--version` lines, the
//! `help` command, `[OPTIONS]`, `[default: …]`) is put into Chinese by [`builtin_zh`] on the
//! rendered help. The unit tests walk the whole command tree and fail when a command or an
//! argument has no line here (or a line here names nothing), so a new flag needs its Chinese
//! line before the tests pass.

use clap::Command;
use std::ffi::OsString;

/// One command's Chinese text: its path (the words after `lingong`, `""` for `lingong`
/// itself), its about, and its arguments' help lines by argument id (the field's name in
/// `main.rs`: `sync_interval`, `for_node` for `--for`, `kind` for `--type`); `shared` lists the
/// argument groups it flattens in ([`POST_FIELDS`], [`CSV_IN`]…).
struct Entry {
    path: &'static str,
    about: &'static str,
    args: &'static [(&'static str, &'static str)],
    shared: &'static [&'static [(&'static str, &'static str)]],
}

const fn entry(path: &'static str, about: &'static str) -> Entry {
    Entry {
        path,
        about,
        args: &[],
        shared: &[],
    }
}

const fn with(
    path: &'static str,
    about: &'static str,
    args: &'static [(&'static str, &'static str)],
) -> Entry {
    Entry {
        path,
        about,
        args,
        shared: &[],
    }
}

/// `post create` / `post update` (`PostArgs`).
const POST_FIELDS: &[(&str, &str)] = &[
    ("title", "岗位名称（如 搬运工）"),
    (
        "occupation",
        "工种：职业分类代码（如 4-10-01-06）或常用叫法（如 钟点工）",
    ),
    ("wage", "工资，元/计薪单位"),
    (
        "unit",
        "计薪单位：day（日）、hour（小时）、piece（件）或 month（月）",
    ),
    ("headcount", "招用人数"),
    ("reach", "发布范围的区划代码（默认本站区划）"),
    ("expires", "截止日期 YYYY-MM-DD（默认 30 天后）"),
    ("location", "工作地点"),
    ("contact", "联系人及电话"),
    ("description", "工作内容、时间、条件"),
    ("employer", "用工主体编号（见 employer register）"),
];

/// `worker register` / `worker update` (`WorkerArgs`).
const WORKER_FIELDS: &[(&str, &str)] = &[
    ("name", "劳动者姓名"),
    ("id_number", "18 位居民身份证号码（明文只保存在本站）"),
    ("phone", "手机号码（11 位）"),
    (
        "skills",
        "技能：职业分类代码或常用叫法（钟点工、搬运），逗号分隔",
    ),
    ("wage_min", "可接受的最低日工资，元/天"),
    (
        "flags",
        "优先帮扶类别：older（大龄）、disabled（残疾）、long-wait（长期失业），逗号分隔，每项一次",
    ),
    ("available_from", "可上岗起始日期 YYYY-MM-DD"),
    ("available_to", "可上岗截止日期 YYYY-MM-DD"),
];

/// `employer register` / `employer update` (`EmployerArgs`).
const EMPLOYER_FIELDS: &[(&str, &str)] = &[
    ("name", "用工主体名称（与营业执照一致）"),
    (
        "kind",
        "类型：enterprise（企业）、individual-business（个体工商户）、individual（个人）或 other（其他）",
    ),
    ("credit_code", "18 位统一社会信用代码"),
    ("id_number", "个人用工主体的身份证号码"),
    ("contact", "联系人"),
    ("phone", "联系电话"),
    ("address", "地址"),
    ("verified_by", "核验人及核验方式（营业执照或身份证）"),
];

/// `post|worker|employer import` (`CsvIn`).
const CSV_IN: &[(&str, &str)] = &[
    (
        "file",
        "CSV 文件（表格软件另存的 UTF-8，带不带 BOM 均可，或 GBK）",
    ),
    ("encoding", "文件编码：utf-8 或 gbk（默认自动识别）"),
    ("dry_run", "只检查每一行，不导入"),
];

/// `post export` (`CsvOut`, `PostFilterArgs`).
const CSV_OUT: &[(&str, &str)] = &[
    ("csv", "导出为 Excel 可打开的 CSV 文件（权限 0600）"),
    ("encoding", "文件编码：utf-8（带 BOM，默认）或 gbk"),
];
const POST_FILTERS: &[(&str, &str)] = &[
    ("region", "只导出该区划代码及其下级的岗位"),
    (
        "status",
        "岗位状态：open（招聘中）、filled（已招满）、closed（已关闭）或 expired（已过期）",
    ),
    (
        "review",
        "审核状态：pending（待审核）、approved（已通过）或 rejected（未通过）",
    ),
    ("occupation", "只导出该工种的岗位（代码或常用叫法）"),
    ("employer", "只导出该用工主体的岗位（其编号）"),
    ("limit", "最多导出多少个岗位（默认全部）"),
    ("after", "从该岗位之后继续（上一页最后一个编号）"),
];

/// Every command and argument, in the order of `main.rs`.
const TABLE: &[Entry] = &[
    with(
        "",
        "零工 lingong：贵州零工市场公共服务的签名点对点节点",
        &[
            ("home", "节点主目录（密钥、配置、存储）"),
            ("json", "在标准输出只打印一个 JSON 值（供脚本使用）"),
            ("lang", "提示语言：zh 或 en（默认按 LANG 环境变量）"),
        ],
    ),
    with(
        "init",
        "创建本节点的密钥和配置",
        &[
            ("name", "站点名称（如 青岩镇零工驿站）"),
            (
                "region",
                "本站服务的区划代码：省 2 位、市 4 位、县 6 位、乡镇 9 位、村（社区）12 位",
            ),
            (
                "listen",
                "监听对等节点连接的地址（multiaddr，可多次使用；默认 /ip4/0.0.0.0/tcp/0）",
            ),
            (
                "http",
                "网页控制台和 HTTP 接口的地址（默认 127.0.0.1:0，即任一空闲端口）",
            ),
        ],
    ),
    entry("cert", "证书：申请、签发、安装、查看、吊销"),
    with(
        "cert request",
        "生成本节点的证书申请",
        &[("out", "同时把申请写入该文件（权限 0600）")],
    ),
    with(
        "cert issue",
        "为下级节点签发证书",
        &[
            ("request", "下级节点的证书申请文件"),
            ("days", "证书有效天数"),
            ("out", "同时把证书写入该文件（权限 0600）"),
            (
                "successor_of",
                "被替换站点（如机器损毁）的节点编号：新证书注明接替关系，同时吊销其旧密钥",
            ),
        ],
    ),
    with(
        "cert rotate",
        "更换密钥：生成本节点的新密钥及其证书申请（由上级用 cert issue --successor-of 签发，cert install 后切换）",
        &[("out", "同时把申请写入该文件（权限 0600）")],
    ),
    with(
        "cert install",
        "验证证书链并安装",
        &[("file", "上级签发的证书文件")],
    ),
    entry("cert show", "查看已安装的证书链"),
    with(
        "cert revoke",
        "吊销本节点管辖范围内的节点",
        &[
            ("node_id", "要吊销的节点编号（12D3KooW…）"),
            ("reason", "吊销原因（记入吊销记录）"),
        ],
    ),
    entry("post", "岗位"),
    Entry {
        path: "post create",
        about: "发布岗位：先进入待审核队列，审核通过后才对外展示",
        args: &[],
        shared: &[POST_FIELDS],
    },
    with(
        "post list",
        "岗位列表，可筛选、分页（--limit、--after）",
        &[
            ("region", "只列该区划代码及其下级的岗位"),
            (
                "status",
                "岗位状态：open（招聘中）、filled（已招满）、closed（已关闭）或 expired（已过期）",
            ),
            (
                "review",
                "审核状态：pending（待审核）、approved（已通过）或 rejected（未通过）",
            ),
            ("occupation", "只列该工种的岗位（代码或常用叫法）"),
            ("employer", "只列该用工主体的岗位（其编号）"),
            ("limit", "最多列出多少行（默认 100）"),
            ("after", "从该岗位之后继续（上一页最后一个编号）"),
        ],
    ),
    with(
        "post show",
        "岗位详情：全部字段、审核情况、已上岗人数",
        &[("id", "岗位编号")],
    ),
    Entry {
        path: "post update",
        about: "修改岗位的字段或状态（签名修改）",
        args: &[
            ("id", "岗位编号"),
            (
                "status",
                "岗位状态：open（招聘中）、filled（已招满）、closed（已关闭）或 expired（已过期）",
            ),
        ],
        shared: &[POST_FIELDS],
    },
    with(
        "post review",
        "审核岗位（真实性审查），或用 --queue 查看待审核队列",
        &[
            ("id", "岗位编号"),
            (
                "queue",
                "列出待审核的岗位（最早的在前），附自动检查发现的问题",
            ),
            ("approve", "审核通过：岗位对外展示并推送"),
            ("reject", "审核不通过（须用 --reason 说明原因）"),
            ("reason", "不通过的原因（或通过时的备注）"),
            ("limit", "与 --queue 一起用：最多列出多少个岗位（默认全部）"),
            (
                "after",
                "与 --queue 一起用：从该岗位之后继续（上一页最后一个编号）",
            ),
        ],
    ),
    Entry {
        path: "post export",
        about: "导出一个岗位的 Automerge 文档（编号 --out 文件），或把符合 post list 筛选条件的岗位导出为 CSV（--csv 文件）",
        args: &[
            ("id", "岗位编号（与 --out 一起用）"),
            ("out", "岗位 Automerge 文档的输出文件"),
        ],
        shared: &[CSV_OUT, POST_FILTERS],
    },
    Entry {
        path: "post import",
        about: "按 CSV 文件逐行发布岗位：全部成功才导入，有一行出错则一行也不导入",
        args: &[],
        shared: &[CSV_IN],
    },
    entry("worker", "劳动者（灵活就业人员）"),
    Entry {
        path: "worker register",
        about: "登记劳动者（求职登记）；身份证号码明文只保存在本站",
        args: &[],
        shared: &[WORKER_FIELDS],
    },
    with(
        "worker list",
        "劳动者列表（身份证号码只显示脱敏后的）",
        &[("priority", "只列优先帮扶对象（大龄、残疾、长期失业）")],
    ),
    with(
        "worker show",
        "劳动者详情（身份证号码脱敏）",
        &[("id", "劳动者编号")],
    ),
    Entry {
        path: "worker update",
        about: "修改劳动者信息（签名修改）",
        args: &[("id", "劳动者编号")],
        shared: &[WORKER_FIELDS],
    },
    with(
        "worker deregister",
        "注销劳动者：记录保留并标注，不再参与匹配",
        &[("id", "劳动者编号")],
    ),
    with(
        "worker erase",
        "删除劳动者的个人信息（个人信息保护法），须在登记该劳动者的站点操作",
        &[
            ("id", "劳动者编号"),
            ("reason", "删除原因（如 本人申请），记入记录"),
        ],
    ),
    Entry {
        path: "worker import",
        about: "按 CSV 文件逐行登记劳动者：全部成功才导入，有一行出错则一行也不导入",
        args: &[],
        shared: &[CSV_IN],
    },
    with(
        "worker export",
        "把劳动者（同 worker list，身份证号码脱敏）导出为 CSV",
        &[
            ("csv", "导出为 Excel 可打开的 CSV 文件（权限 0600）"),
            ("encoding", "文件编码：utf-8（带 BOM，默认）或 gbk"),
            ("priority", "只导出优先帮扶对象"),
        ],
    ),
    entry("employer", "用工主体"),
    Entry {
        path: "employer register",
        about: "登记用工主体，核验统一社会信用代码或身份证号码",
        args: &[],
        shared: &[EMPLOYER_FIELDS],
    },
    with(
        "employer list",
        "用工主体列表，可筛选、分页",
        &[("status", "状态：active（正常）或 suspended（已暂停）")],
    ),
    with(
        "employer show",
        "用工主体详情，附针对它的投诉处理结果",
        &[("id", "用工主体编号")],
    ),
    Entry {
        path: "employer update",
        about: "修改用工主体信息（签名修改）",
        args: &[("id", "用工主体编号")],
        shared: &[EMPLOYER_FIELDS],
    },
    with(
        "employer suspend",
        "暂停用工主体（须说明原因）：其新发布的岗位不能审核通过",
        &[("id", "用工主体编号"), ("reason", "暂停原因（记入记录）")],
    ),
    Entry {
        path: "employer import",
        about: "按 CSV 文件逐行登记用工主体：全部成功才导入，有一行出错则一行也不导入",
        args: &[],
        shared: &[CSV_IN],
    },
    with(
        "employer export",
        "把用工主体（同 employer list）导出为 CSV",
        &[
            ("csv", "导出为 Excel 可打开的 CSV 文件（权限 0600）"),
            ("encoding", "文件编码：utf-8（带 BOM，默认）或 gbk"),
            ("status", "状态：active（正常）或 suspended（已暂停）"),
        ],
    ),
    with(
        "match",
        "匹配：为劳动者找岗位（--worker），或为岗位找劳动者（--post），优先帮扶对象在前",
        &[
            ("worker", "劳动者编号：列出适合他的岗位"),
            ("post", "岗位编号：列出适合它的劳动者"),
            ("limit", "最多列出多少个（默认 20）"),
        ],
    ),
    entry("placement", "上岗（即时确认结果）"),
    with(
        "placement confirm",
        "当场确认上岗",
        &[
            ("post", "岗位编号"),
            ("worker", "劳动者编号"),
            ("wage", "工资，元/岗位的计薪单位（默认岗位工资）"),
            ("start", "上岗日期 YYYY-MM-DD（默认今天）"),
            ("end", "结束日期 YYYY-MM-DD（如有约定）"),
            (
                "worker_confirmed",
                "劳动者确认方式：paper（书面）、spoken（口头）或 phone-code（手机验证码）",
            ),
            (
                "employer_confirmed",
                "用工主体确认方式：paper（书面）、spoken（口头）或 phone-code（手机验证码）",
            ),
        ],
    ),
    with(
        "placement list",
        "上岗记录：全部，或某个岗位、某个劳动者的",
        &[
            ("post", "只列该岗位的上岗记录"),
            ("worker", "只列该劳动者的上岗记录"),
        ],
    ),
    with(
        "placement cancel",
        "取消上岗（如超招），须说明原因",
        &[("id", "上岗记录编号"), ("reason", "取消原因（记入记录）")],
    ),
    with(
        "placement end",
        "结束上岗并记录结果（paid、paid-late、unpaid、left-early）",
        &[
            ("id", "上岗记录编号"),
            (
                "outcome",
                "结果：paid（已结清）、paid-late（延迟结清）、unpaid（未支付）或 left-early（提前离岗）",
            ),
        ],
    ),
    with(
        "placement agreement",
        "生成用工协议（按上岗记录预先填好）",
        &[
            ("id", "上岗记录编号"),
            ("out", "协议的输出文件（权限 0600）"),
        ],
    ),
    with(
        "placement export",
        "把上岗记录（同 placement list）导出为 CSV",
        &[
            ("csv", "导出为 Excel 可打开的 CSV 文件（权限 0600）"),
            ("encoding", "文件编码：utf-8（带 BOM，默认）或 gbk"),
            ("post", "只导出该岗位的上岗记录"),
            ("worker", "只导出该劳动者的上岗记录"),
        ],
    ),
    entry(
        "push",
        "推送清单（精准推送）：新审核通过的岗位要联系的劳动者，优先帮扶对象在前",
    ),
    with(
        "push list",
        "本站范围内每个新审核通过、仍在招聘的岗位，及要联系的劳动者",
        &[
            ("post", "只列该岗位（不论何时审核通过）"),
            ("days", "最近多少天内审核通过的岗位（默认 7）"),
            ("limit", "每个岗位最多列出多少名劳动者（默认 20）"),
        ],
    ),
    with(
        "push mark",
        "记录就某个岗位联系劳动者的结果（岗位推荐）",
        &[
            ("post", "岗位编号"),
            ("worker", "劳动者编号"),
            (
                "result",
                "结果：contacted（已联系）、interested（有意向）、declined（不愿意）或 unreachable（联系不上）",
            ),
            ("note", "联系情况备注"),
        ],
    ),
    with(
        "push send",
        "通过配置的 push_command 把岗位信息发送给推送清单上的每个劳动者",
        &[
            ("post", "只发送该岗位的清单"),
            ("worker", "只发送给该劳动者"),
            ("days", "最近多少天内审核通过的岗位（默认 7）"),
        ],
    ),
    entry("assist", "困难帮扶台账，以及未完成年度帮扶目标的劳动者"),
    with(
        "assist log",
        "记录本站为某个劳动者做的一项帮扶",
        &[
            ("worker", "劳动者编号"),
            (
                "kind",
                "帮扶类别：career-guidance（职业指导）、job-recommendation（岗位推荐）、training-info（培训信息）、internship-offer（见习岗位）、policy-consultation（政策咨询）、subsidy-application（补贴申领）、social-insurance（社会保险）或 civil-affairs-referral（转介民政）",
            ),
            ("note", "帮扶内容"),
            ("post", "推荐的岗位编号（仅岗位推荐）"),
            (
                "result",
                "推荐结果：contacted（已联系）、interested（有意向）、declined（不愿意）或 unreachable（联系不上）（仅岗位推荐）",
            ),
        ],
    ),
    with(
        "assist list",
        "本站保存的帮扶记录，最新的在前",
        &[
            ("worker", "只列该劳动者的记录"),
            ("kind", "只列该类别的记录（类别同 assist log --kind）"),
            ("limit", "最多列出多少行（默认全部）"),
        ],
    ),
    with(
        "assist due",
        "未完成年度帮扶目标的优先帮扶对象，拖得最久的在前",
        &[("worker", "只看该劳动者")],
    ),
    entry("directory", "零工市场和驿站名录"),
    with(
        "directory set",
        "新建或修改本站的名录信息",
        &[
            ("address", "本站地址"),
            ("hours", "开放时间（如 周一至周五 8:30-17:30）"),
            ("hotline", "服务电话"),
            ("services", "服务项目，逗号分隔"),
            ("rules", "本站服务制度"),
        ],
    ),
    with(
        "directory list",
        "本节点知道的每个已认证站点，及其名录信息、最近联系时间和状态",
        &[("region", "只列该区划代码范围内的站点")],
    ),
    with(
        "directory export",
        "把名录导出为 CSV（Excel）或可打印的 HTML 页面",
        &[
            ("out", "输出文件（权限 0600）"),
            ("format", "格式：csv（默认）或 html"),
            ("region", "只导出该区划代码范围内的站点"),
        ],
    ),
    entry("complaint", "投诉维权：欠薪、就业歧视、欺诈、不安全作业"),
    with(
        "complaint file",
        "在本站登记投诉",
        &[
            (
                "kind",
                "投诉类别：wage-arrears（欠薪）、discrimination（就业歧视）、fraud（欺诈）、unsafe-work（不安全作业）或 other（其他）",
            ),
            ("post", "被投诉的岗位编号"),
            ("employer", "被投诉的用工主体编号"),
            ("worker", "劳动者记录的编号（不保存劳动者的其他信息）"),
            ("text", "投诉内容（投诉人的原话）"),
            ("amount", "被拖欠或损失的金额，元"),
        ],
    ),
    with(
        "complaint list",
        "本站保存的投诉，最新的在前",
        &[
            (
                "status",
                "状态：received（已收到）、accepted（已受理）、handling（处理中）、referred（已转办）、resolved（已办结）或 closed（已关闭）",
            ),
            ("overdue", "只列超过受理时限仍未受理的投诉"),
        ],
    ),
    with(
        "complaint show",
        "投诉详情及处理经过",
        &[("id", "投诉编号")],
    ),
    with(
        "complaint update",
        "推进投诉处理一步：accepted、handling、referred、resolved、closed",
        &[
            ("id", "投诉编号"),
            (
                "status",
                "新状态：accepted（已受理）、handling（处理中）、referred（已转办）、resolved（已办结）或 closed（已关闭）",
            ),
            ("note", "处理情况（记入处理经过）"),
            ("referred_to", "转办去向（法律援助、劳动仲裁、民政等）"),
            (
                "recovered",
                "追回的工资，元（欠薪投诉，与 --status resolved 一起用）",
            ),
            (
                "finding",
                "认定结果：upheld（属实）、partly-upheld（部分属实）或 not-upheld（不属实）（与 --status resolved 一起用）",
            ),
            (
                "close_post",
                "关闭被投诉的岗位（欺诈或就业歧视属实时；县级及以上）",
            ),
            ("suspend_employer", "暂停被投诉的用工主体（条件同上）"),
        ],
    ),
    with(
        "report",
        "服务成效表：某一期的各项数字、签章、核验签章",
        &[
            ("period", "统计期：YYYY-MM（月）或 YYYY-Qn（季度）"),
            ("region", "本节点区划内的某个区划（默认本节点区划）"),
            ("csv", "打印 CSV（表头写明工资口径），不打印表格"),
        ],
    ),
    with(
        "report seal",
        "对已结束统计期的本节点成效表签章（每期一次；更正用 --amend）",
        &[
            ("period", "统计期：YYYY-MM（月）或 YYYY-Qn（季度）"),
            ("amend", "重新签章，替换本节点该期的签章"),
            ("reason", "更正签章的原因"),
        ],
    ),
    with(
        "report verify",
        "按本节点保存的记录重新计算每个签章，列出不一致之处",
        &[("period", "只核验该统计期的签章（YYYY-MM 或 YYYY-Qn）")],
    ),
    with(
        "supervise",
        "督查：需要关注的站点、限期整改通知",
        &[("stale_days", "站点多少天没有新岗位（或没有联系）就列出")],
    ),
    with(
        "supervise order",
        "责令本市、县以下的站点限期整改",
        &[
            ("node_id", "站点的节点编号（12D3KooW…）"),
            ("reason", "需要整改的问题"),
            ("deadline", "整改期限 YYYY-MM-DD"),
        ],
    ),
    entry(
        "supervise orders",
        "针对本节点或下级站点的限期整改通知及其状态",
    ),
    entry(
        "audit",
        "审计：逐一核验本节点保存的签名、证书链、日志和成效表签章",
    ),
    entry("status", "节点状态：保存了什么、与哪些节点联系"),
    entry("peer", "要连接的对等节点"),
    with(
        "peer add",
        "添加对等节点，如 /ip4/127.0.0.1/tcp/4101/p2p/12D3KooW...",
        &[("multiaddr", "对等节点的地址，以 /p2p/节点编号 结尾")],
    ),
    entry("staff", "网页控制台的工作人员账号（只在本节点，不同步）"),
    with(
        "staff add",
        "添加工作人员；不用 --password-stdin 时生成密码并只显示一次",
        &[
            ("name", "登录名"),
            (
                "role",
                "角色：clerk（经办员）、reviewer（审核员）、supervisor（监督员）或 admin（管理员）",
            ),
            ("password_stdin", "从标准输入的第一行读取密码"),
        ],
    ),
    entry("staff list", "工作人员及其角色（不显示密码）"),
    with(
        "staff passwd",
        "设置新密码（不用 --password-stdin 时生成并只显示一次）；已登录的会话失效",
        &[
            ("name", "工作人员的登录名"),
            ("password_stdin", "从标准输入的第一行读取密码"),
        ],
    ),
    with(
        "staff remove",
        "删除工作人员；其会话失效",
        &[("name", "工作人员的登录名")],
    ),
    entry(
        "token",
        "合作平台和人社部门系统使用的接口令牌（只在本节点）",
    ),
    with(
        "token add",
        "为合作平台或系统生成接口令牌：只显示一次，只保存其哈希",
        &[
            ("name", "令牌名称（使用它的平台或系统）"),
            (
                "role",
                "角色：clerk（经办员）、reviewer（审核员）、supervisor（监督员）或 admin（管理员），决定令牌能做什么",
            ),
        ],
    ),
    entry("token list", "令牌名称和角色（不显示令牌本身）"),
    with(
        "token revoke",
        "吊销令牌：立即失效",
        &[("name", "令牌名称")],
    ),
    with(
        "run",
        "守护进程：监听、连接对等节点、同步；收到 SIGTERM/SIGINT 时正常停止",
        &[
            (
                "listen",
                "监听对等节点连接的地址（multiaddr，可多次使用；覆盖配置）",
            ),
            ("http", "网页控制台和 HTTP 接口的地址（覆盖配置）"),
            (
                "sync_interval",
                "与每个对等节点两轮同步之间的秒数（覆盖配置）",
            ),
            ("no_mdns", "不在局域网内查找对等节点（mDNS）"),
        ],
    ),
    with(
        "sample",
        "录入示例岗位（演示和压力测试用）：字段逼真，和其他记录一样签名",
        &[("posts", "录入多少个示例岗位")],
    ),
    with(
        "sync",
        "立即与每个已配置的对等节点同步",
        &[
            ("once", "同步一次后返回（唯一的方式；为兼容旧脚本保留）"),
            ("timeout", "整个同步最多用多少秒"),
        ],
    ),
    entry("bundle", "没有网络连接时，用 U 盘传递数据包"),
    with(
        "bundle export",
        "把本节点保存的变更（或只是 --for 节点需要的）写成数据包文件，拷到 U 盘",
        &[
            ("out", "要写的数据包文件（权限 0600）"),
            ("for_node", "只写该节点范围内需要的变更（其节点编号）"),
            (
                "to",
                "把数据包加密给该节点（节点编号或其证书文件）：数据包含劳动者个人信息时必须使用",
            ),
        ],
    ),
    with(
        "bundle import",
        "导入数据包中的变更，每一条都像对等节点发来的一样核验",
        &[("file", "要读取的数据包文件")],
    ),
    with(
        "demo",
        "在本机搭建八个节点的演示网络（省到三个村），附示例数据",
        &[
            ("dir", "八个节点主目录所在的文件夹（默认 ./lingong-demo）"),
            (
                "no_wait",
                "显示网络后即停止（脚本、测试用）；默认八个守护进程及其网页控制台一直运行到按 Ctrl-C",
            ),
            (
                "keep_running",
                "为兼容旧脚本保留：现在默认就一直运行到按 Ctrl-C",
            ),
        ],
    ),
    entry(
        "doctor",
        "检查本节点，指出需要人工处理的问题：文件、证书、存储、磁盘、对等节点、时钟、待上传的变更（一切正常退出码 0，有问题 1）",
    ),
    with(
        "setup",
        "首次设置：一次完成密钥、配置和证书申请（在终端运行时用中文询问缺少的信息）",
        &[
            ("name", "站点名称（如 青岩镇零工驿站）"),
            ("region", "本站服务的区划代码（同 init）"),
            (
                "parent_peer",
                "上级站点的地址（以 /p2p/节点编号 结尾的 multiaddr）",
            ),
            ("out_request", "给上级的证书申请写入该文件"),
            ("listen", "监听对等节点连接的地址（multiaddr，可多次使用）"),
            ("http", "网页控制台和 HTTP 接口的地址"),
        ],
    ),
    with(
        "repair",
        "修复损坏的存储：移到一旁，保留仍能核验的记录，其余从对等节点取回（先停止守护进程）",
        &[
            ("force", "存储能正常打开也重建"),
            ("timeout", "与对等节点同步最多用多少秒"),
        ],
    ),
    with(
        "compact",
        "重写存储（每行写一次，写入新存储后替换旧的），使其文件不再留有已删除或已替换的数据；先停止守护进程",
        &[(
            "only_if_smaller",
            "重写后若占用更多空间就保留原存储（只为腾出空间时使用；不加此项则总是替换，删除个人信息时需要这样）",
        )],
    ),
    with(
        "backup",
        "把整个节点（配置、密钥、证书、身份证号哈希密钥、存储、工作人员账号、身份证号码明文）备份到一个用口令加密的文件；守护进程运行时也可以备份",
        &[
            ("out", "要写的备份文件（权限 0600）"),
            (
                "passphrase_stdin",
                "从标准输入的第一行读取口令（否则在终端询问）",
            ),
        ],
    ),
    with(
        "restore",
        "从备份文件恢复出新的主目录（--home，须不存在或为空）；恢复的节点与上级同步之前不签发任何记录",
        &[
            ("file", "备份文件"),
            (
                "passphrase_stdin",
                "从标准输入的第一行读取口令（否则在终端询问）",
            ),
        ],
    ),
];

impl Entry {
    /// The Chinese help line of the argument `id`, from this entry or a group it flattens in.
    fn arg(&self, id: &str) -> Option<&'static str> {
        self.args
            .iter()
            .chain(self.shared.iter().flat_map(|group| group.iter()))
            .find(|(arg, _)| *arg == id)
            .map(|(_, zh)| *zh)
    }
}

fn lookup(path: &str) -> Option<&'static Entry> {
    TABLE.iter().find(|e| e.path == path)
}

/// Whether the user asked for Chinese, read from the raw command line before clap parses it
/// (so that `--help` and parse errors can be Chinese): `--lang zh` or `--lang=zh` first, else
/// a `LANG` starting with `zh`. The same rule as the rest of the command line.
pub fn wants_chinese(args: &[OsString]) -> bool {
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let asked = args
        .iter()
        .position(|a| a == "--lang")
        .and_then(|i| args.get(i + 1).cloned())
        .or_else(|| {
            args.iter()
                .find_map(|a| a.strip_prefix("--lang=").map(String::from))
        });
    is_chinese(asked.as_deref())
}

/// The command line's one rule for the language of its messages: `--lang` when given, else
/// the `LANG` of the environment; Chinese when it starts with `zh`. Used before parsing
/// ([`wants_chinese`], on the raw arguments) and after it (`main`, on the parsed `--lang`).
pub fn is_chinese(asked: Option<&str>) -> bool {
    match asked {
        Some(lang) => lang.starts_with("zh"),
        None => std::env::var("LANG").is_ok_and(|l| l.starts_with("zh")),
    }
}

/// The command tree with every about and help line in Chinese and clap's headings in Chinese.
/// Only text changes: the parser reads the same flags and values.
pub fn localize(command: Command) -> Command {
    localize_at(command, "")
}

fn localize_at(mut command: Command, path: &str) -> Command {
    let entry = lookup(path);
    if let Some(entry) = entry {
        command = command.about(entry.about).long_about(None::<&str>);
    }
    command = command.mut_args(
        |arg| match entry.and_then(|e| e.arg(arg.get_id().as_str())) {
            Some(zh) => arg.help(zh).long_help(None::<&str>),
            None => arg,
        },
    );
    let template = template(&command);
    command = command
        .help_template(template)
        .subcommand_value_name("命令");
    command.mut_subcommands(|sub| {
        let path = match path {
            "" => sub.get_name().to_string(),
            parent => format!("{parent} {}", sub.get_name()),
        };
        localize_at(sub, &path)
    })
}

/// clap's layout (about, usage, then the sections a command has) with Chinese headings.
fn template(command: &Command) -> String {
    let mut template = String::from("{about-with-newline}\n用法：{usage}\n\n");
    if command.has_subcommands() {
        template.push_str("命令：\n{subcommands}\n\n");
    }
    if command.get_positionals().any(|a| !a.is_hide_set()) {
        template.push_str("参数：\n{positionals}\n\n");
    }
    template.push_str("选项：\n{options}{after-help}");
    template
}

/// What clap writes itself into a help page, in Chinese: its `--help`/`--version` lines, its
/// `help` command, `[OPTIONS]` in the usage line and the `[default: …]`/`[env: …]` notes.
const BUILTIN: &[(&str, &str)] = &[
    (
        "Print this message or the help of the given subcommand(s)",
        "显示本帮助，或某个子命令的帮助",
    ),
    ("Print help for the subcommand(s)", "显示这些子命令的帮助"),
    (
        "Print help (see more with '--help')",
        "显示帮助（--help 显示详细说明）",
    ),
    (
        "Print help (see a summary with '-h')",
        "显示帮助（-h 显示摘要）",
    ),
    ("Print help", "显示帮助"),
    ("Print version", "显示版本号"),
    ("[OPTIONS]", "[选项]"),
    ("[default: ", "[默认："),
    ("[env: ", "[环境变量："),
    ("[possible values: ", "[可选值："),
];

/// A help page rendered by clap from the [`localize`]d tree, with clap's own words in Chinese.
pub fn builtin_zh(help: &str) -> String {
    BUILTIN
        .iter()
        .fold(help.to_string(), |text, (en, zh)| text.replace(en, zh))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// Every command path of the tree, with the command.
    fn walk<'a>(command: &'a Command, path: String, out: &mut Vec<(String, &'a Command)>) {
        for sub in command.get_subcommands() {
            let sub_path = match path.as_str() {
                "" => sub.get_name().to_string(),
                parent => format!("{parent} {}", sub.get_name()),
            };
            walk(sub, sub_path, out);
        }
        out.push((path, command));
    }

    #[test]
    fn every_command_and_argument_has_a_chinese_line_and_an_english_one() {
        let command = crate::Cli::command();
        let mut commands = Vec::new();
        walk(&command, String::new(), &mut commands);
        let mut missing = Vec::new();
        for (path, command) in &commands {
            let Some(entry) = lookup(path) else {
                missing.push(format!("command `{path}`: no entry in help_zh::TABLE"));
                continue;
            };
            assert!(!entry.about.is_empty(), "{path}");
            if command.get_about().is_none() {
                missing.push(format!("command `{path}`: no English doc comment"));
            }
            for arg in command.get_arguments() {
                let id = arg.get_id().as_str();
                if entry.arg(id).is_none() {
                    missing.push(format!("`{path}` argument `{id}`: no Chinese line"));
                }
                if arg.get_help().is_none() {
                    missing.push(format!("`{path}` argument `{id}`: no English doc comment"));
                }
            }
        }
        assert!(missing.is_empty(), "{}", missing.join("\n"));
        // And nothing in the table names a command or argument that no longer exists.
        for entry in TABLE {
            let Some((_, command)) = commands.iter().find(|(p, _)| p == entry.path) else {
                panic!("help_zh::TABLE names `{}`, which is no command", entry.path);
            };
            for (id, _) in entry
                .args
                .iter()
                .chain(entry.shared.iter().flat_map(|g| g.iter()))
            {
                assert!(
                    command.get_arguments().any(|a| a.get_id() == *id),
                    "help_zh::TABLE gives `{}` an argument `{id}` it does not have",
                    entry.path
                );
            }
        }
    }

    #[test]
    fn localized_help_is_chinese_and_parses_the_same() {
        let mut command = localize(crate::Cli::command());
        let help = command
            .try_get_matches_from_mut(["lingong", "init", "--help"])
            .expect_err("--help stops parsing")
            .render()
            .to_string();
        let help = builtin_zh(&help);
        for said in [
            "用法：",
            "选项：",
            "本站服务的区划代码",
            "显示帮助",
            "[选项]",
        ] {
            assert!(help.contains(said), "{said}: {help}");
        }
        for english in ["Usage:", "Options:", "Print help", "[OPTIONS]"] {
            assert!(!help.contains(english), "{english}: {help}");
        }
        // The same flags parse as before.
        let matches = command
            .try_get_matches_from_mut(["lingong", "init", "--name", "n", "--region", "52"])
            .expect("parses");
        let cli = <crate::Cli as clap::FromArgMatches>::from_arg_matches(&matches).expect("cli");
        assert!(matches!(cli.command, crate::Command::Init { .. }));
    }

    #[test]
    fn the_language_is_read_from_the_raw_arguments_before_lang() {
        let args = |a: &[&str]| a.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(wants_chinese(&args(&["lingong", "--lang", "zh", "init"])));
        assert!(wants_chinese(&args(&["lingong", "init", "--lang=zh"])));
        assert!(!wants_chinese(&args(&["lingong", "--lang", "en", "init"])));
        assert!(!wants_chinese(&args(&["lingong", "--lang=en", "post"])));
    }
}
