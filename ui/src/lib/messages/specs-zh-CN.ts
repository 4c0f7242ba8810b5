// Chinese for the texts lanyard-core's ServiceSpecs give in English. Keys: `service.<id>.<field>`
// and `option.<key>.<field>`. Product names (service display names) stay as they are.

export const specsZhCN: Record<string, string> = {
  "service.steedos.description": "华炎魔方低代码平台（自托管）",
  "service.steedos.user_label": "邮箱、手机号或用户名",
  "service.steedos.endpoint_help": "Steedos 服务器的基础地址，例如 http://localhost:5000",
  "service.sscms.description": "SiteServer CMS v6 与 v7 用户接口",
  "service.sscms.user_label": "用户名、手机号或邮箱",
  "service.sscms.endpoint_help": "CMS 的基础地址，例如 https://cms.example.com",
  "service.coolkit.description": "酷宅 / 易微联云账号（API v2，或旧版 v1）",
  "service.coolkit.user_label": "邮箱，或带国家区号的手机号（+86…）",
  "service.coolkit.endpoint_help":
    "地址模板，{region} 会替换为 cn、as、eu 或 us。默认值与官方服务器一致（cn 使用 .cn 域名）",
  "service.siyuan.description": "思源笔记云端账号，经由本机思源内核登录",
  "service.siyuan.user_label": "云端账号用户名",
  "service.siyuan.endpoint_help": "思源内核地址，例如 http://127.0.0.1:6806",
  "service.shopxo.description": "ShopXO 电商系统（自托管）",
  "service.shopxo.user_label": "用户名、手机号或邮箱",
  "service.shopxo.endpoint_help": "商城的基础地址（api.php 所在目录），例如 https://shop.example.com",

  "option.space_id.label": "工作区 ID",
  "option.space_id.help":
    "用于 `Authorization: Bearer <spaceId>,<token>` 请求头的工作区 ID；默认使用登录时服务器选定的工作区",
  "option.password_mode.label": "密码编码",
  "option.password_mode.help":
    "sha256：发送密码的小写十六进制 SHA-256，与官方网页端一致；plain：以 `password-unencrypted` 明文发送",
  "option.api.label": "API 版本",
  "option.api.help": "目前服务器要求使用 v2；v1 是 8080 端口上的旧版签名接口",
  "option.appid.label": "App ID",
  "option.appid.help": "酷宅分配的 APPID",
  "option.appsecret.label": "App Secret",
  "option.appsecret.help": "用于 HMAC-SHA256 请求签名的密钥",
  "option.region.label": "区域",
  "option.region.help": "优先尝试的区域；服务器返回重定向时会自动更新",
  "option.country_code.label": "国家区号",
  "option.country_code.help": "v2 登录时一并发送的电话国家区号，例如 +86 或 +1",
  "option.api_token.label": "内核 API 令牌",
  "option.api_token.help": "设置 → 关于 → API token；以 `Authorization: Token …` 发送",
  "option.cloud_region.label": "云端区域",
  "option.cloud_region.help": "0：ld246.com（中国大陆），1：liuyun.io（北美）",
  "option.captcha_endpoint.label": "验证码服务器",
  "option.captcha_endpoint.help": "验证码图片的来源；默认按区域使用 https://ld246.com 或 https://liuyun.io",
  "option.client_type.label": "客户端类型",
  "option.client_type.help": "Lanyard 以哪种客户端身份登录（h5 即手机网页商城）；商城为每种客户端分别保存登录",
  "option.login_type.label": "登录方式",
  "option.login_type.help":
    "username：密码登录（商城要求时还需验证码）；sms 或 email：向账号发送验证码登录",
  "option.proxy.label": "代理",
  "option.proxy.help":
    "此账号使用的 HTTP(S) 代理地址，例如 http://proxy.example:3128；留空则使用环境变量 HTTP_PROXY / HTTPS_PROXY / NO_PROXY",
  "option.ca_file.label": "CA 证书文件",
  "option.ca_file.help": "签发此服务器证书的 CA（私有或公司 CA）的 PEM 文件；在系统证书库和内置根证书之外额外信任",
};
