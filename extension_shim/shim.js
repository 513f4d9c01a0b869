// blindfill shim: finds sign-in forms in one document and fills the fields it is told to.
//
// The browser side injects this file over CDP into an isolated world of every frame
// (Page.addScriptToEvaluateOnNewDocument with a world name). An isolated world shares the
// DOM with the page but has its own global object and its own copies of every DOM
// prototype, so page scripts can neither see this code nor change what `value`,
// `querySelectorAll` or `getComputedStyle` do here. The file defines no global variables;
// its one entry point is a non-enumerable property (HANDLE_KEY) of the isolated world's
// own global object, which the page cannot reach. The same file loads unchanged as an MV3
// content script (manifest.json beside it) for debugging; there the binding is absent.
//
// Requests come from the browser side as plain objects; answers are plain JSON values.
// No answer, notification or error ever carries a field's value.
(() => {
  'use strict';

  // --- Names shared with blindfill/agent/shim.py ---------------------------------------
  const SHIM_VERSION = 1;
  const HANDLE_KEY = '__blindfillShim';
  const BINDING_NAME = '__blindfillNotify';

  // Requests the browser side may send.
  const Request = Object.freeze({
    DESCRIBE: 'describe',
    FILL: 'fill',
    ACTION: 'action',
    SUBMIT: 'submit',
    CLEAR: 'clear',
    PROBE_FRAME: 'probe_frame',
  });

  // Form kinds. The first four may be filled; the rest are recognised and never filled.
  const Kind = Object.freeze({
    LOGIN: 'login',
    USERNAME_STEP: 'username_step',
    PASSWORD_STEP: 'password_step',
    OTP: 'one_time_code',
    SIGNUP: 'signup',
    CHANGE_PASSWORD: 'change_password',
    SEARCH: 'search',
    NEWSLETTER: 'newsletter',
    CHECKOUT: 'checkout',
    OTHER: 'other',
  });
  const FILLABLE_KINDS = new Set([
    Kind.LOGIN,
    Kind.USERNAME_STEP,
    Kind.PASSWORD_STEP,
    Kind.OTP,
  ]);

  // Field roles. Only the first three are ever filled.
  const Role = Object.freeze({
    USERNAME: 'username',
    PASSWORD: 'password',
    OTP: 'one_time_code',
    NEW_PASSWORD: 'new_password',
    OTHER: 'other',
  });

  // Outcome codes of fill, clear and submit; blindfill/agent/forms.py mirrors them.
  const Status = Object.freeze({
    OK: 'ok',
    DOCUMENT_CHANGED: 'document_changed',
    FORM_GONE: 'form_gone',
    FIELD_GONE: 'field_gone',
    FIELD_HIDDEN: 'field_hidden',
    FIELD_LOCKED: 'field_locked',
    ROLE_MISMATCH: 'role_mismatch',
    VALUE_TOO_LONG: 'value_too_long',
    BAD_REQUEST: 'bad_request',
    NO_SUBMIT: 'no_submit',
    INSECURE_ACTION: 'insecure_action',
  });

  // Visibility: a field smaller than this, or fainter than this, is not seen by a person.
  const MIN_FIELD_PX = 6;
  const MIN_OPACITY = 0.5;
  // Bounds on the text read around a form, so huge pages stay linear and fast.
  const MAX_TEXT_NODES = 400;
  const MAX_TEXT_CHARS = 4000;
  const MAX_LABEL_CHARS = 200;
  const MAX_CONTAINER_CLIMB = 8;
  const MAX_BUTTONS = 40;
  // Delay before telling the browser side that forms may have changed.
  const NOTIFY_DELAY_MS = 250;

  if (Object.prototype.hasOwnProperty.call(globalThis, HANDLE_KEY)) {
    return; // injected twice into the same world (new-document script and a late attach)
  }

  // --- Our own references, taken before anything else can run in this world -------------
  const doc = globalThis.document;
  const win = globalThis;
  const inputProto = HTMLInputElement.prototype;
  const nativeValueSetter = Object.getOwnPropertyDescriptor(inputProto, 'value').set;
  const nativeValueGetter = Object.getOwnPropertyDescriptor(inputProto, 'value').get;
  const formActionGetter = Object.getOwnPropertyDescriptor(
    HTMLFormElement.prototype,
    'action',
  ).get;
  const formMethodGetter = Object.getOwnPropertyDescriptor(
    HTMLFormElement.prototype,
    'method',
  ).get;
  const formElementsGetter = Object.getOwnPropertyDescriptor(
    HTMLFormElement.prototype,
    'elements',
  ).get;
  const computeStyle = win.getComputedStyle.bind(win);
  // Styles read while answering one request; cleared at the start of each (styles change).
  let styleCache = new Map();
  const getComputedStyleOf = (el) => {
    let style = styleCache.get(el);
    if (!style) {
      style = computeStyle(el);
      styleCache.set(el, style);
    }
    return style;
  };
  const EventCtor = win.Event;
  const binding = typeof win[BINDING_NAME] === 'function' ? win[BINDING_NAME] : null;
  const nonce = makeNonce();

  // Text that marks a sign-in. Latin words need word edges; CJK and the like do not.
  const LOGIN_WORDS = words(
    [
      'sign ?in',
      'log ?in',
      'log ?on',
      'sign on',
      'anmelden',
      'einloggen',
      'anmeldung',
      'connexion',
      'se connecter',
      "s'identifier",
      'identifiez-vous',
      'iniciar sesi[oó]n',
      'inicia sesi[oó]n',
      'ingresar',
      'acceder',
      'entrar',
      'iniciar sess[aã]o',
      'fazer login',
      'accedi',
      'accesso',
      'inloggen',
      'aanmelden',
      'войти',
      'вход',
      'авторизация',
      'увійти',
      'вхід',
      'zaloguj(?: się)?',
      'logowanie',
      'přihlásit',
      'přihlášení',
      'prihlásiť',
      'đăng nhập',
      'giriş(?: yap)?',
      'oturum aç',
      'belépés',
      'bejelentkezés',
      'kirjaudu',
      'logga in',
      'logg inn',
      'log ind',
      'σύνδεση',
      'masuk',
      'autenticar',
      'authenticate',
    ],
    [
      'ログイン',
      'サインイン',
      '登录',
      '登入',
      '登錄',
      '로그인',
      'ورود',
      'تسجيل الدخول',
      'เข้าสู่ระบบ',
      'התחבר',
    ],
  );
  const SIGNUP_WORDS = words(
    [
      'sign ?up',
      'register',
      'registration',
      'create (?:an |your |new |a free )?account',
      'create account',
      'join(?: now| us| free| for free)?',
      'get started',
      'open an account',
      'new account',
      'enrol+',
      'start (?:your )?free trial',
      'registrieren',
      'registrierung',
      'konto erstellen',
      'créer (?:un|mon|votre) compte',
      'inscription',
      "s'inscrire",
      'regístrate',
      'registrarse',
      'registrarme',
      'crear (?:una )?cuenta',
      'cadastr(?:e|ar|o)',
      'criar (?:uma )?conta',
      'registrati',
      'iscriviti',
      'crea (?:un )?account',
      'registreren',
      'account aanmaken',
      'регистрация',
      'зарегистрироваться',
      'создать (?:аккаунт|учетную запись)',
      'реєстрація',
      'зареєструватися',
      'rejestracja',
      'zarejestruj(?: się)?',
      'załóż konto',
      'registrace',
      'registrovat',
      'zaregistrovat',
      'đăng ký',
      'kayıt ol',
      'üye ol',
      'regisztráció',
      'rekisteröidy',
      'skapa konto',
      'opret konto',
      'εγγραφή',
      'daftar',
    ],
    [
      '会員登録',
      '新規登録',
      '新規会員',
      '注册',
      '註冊',
      '회원가입',
      '가입하기',
      'ثبت نام',
      'ثبت‌نام',
      'إنشاء حساب',
      'สมัครสมาชิก',
    ],
  );
  const FORGOT_WORDS = words(
    [
      'forgot',
      'forgotten',
      'reset (?:your )?password',
      'lost (?:your )?password',
      "can't (?:sign|log) in",
      'trouble (?:signing|logging) in',
      'remember me',
      'keep me (?:signed|logged) in',
      'stay (?:signed|logged) in',
      'passwort vergessen',
      'angemeldet bleiben',
      'mot de passe oublié',
      'se souvenir de moi',
      'olvid(?:aste|ó|é)',
      'recordarme',
      'esque(?:ceu|ci)',
      'lembrar',
      'dimenticat[oa]',
      'ricordami',
      'wachtwoord vergeten',
      'забыли',
      'запомнить',
      'забули',
      "запам'ятати",
      'nie pamiętasz',
      'zapamiętaj',
      'zapomenuté',
      'zapomněli',
      'quên mật khẩu',
      'şifremi unuttum',
      'beni hatırla',
    ],
    ['パスワードを忘れ', '忘记密码', '忘記密碼', '비밀번호 찾기', 'فراموشی', 'نسيت'],
  );
  const NEXT_WORDS = words(
    [
      'next',
      'continue',
      'proceed',
      'weiter',
      'suivant',
      'continuer',
      'siguiente',
      'continuar',
      'avanti',
      'continua',
      'volgende',
      'doorgaan',
      'далее',
      'продолжить',
      'далі',
      'продовжити',
      'dalej',
      'další',
      'pokračovat',
      'tiếp tục',
      'devam',
    ],
    ['次へ', '下一步', '继续', '繼續', '다음', 'ادامه', 'بعدی', 'التالي'],
  );
  const NEWSLETTER_WORDS = words(
    [
      'newsletters?',
      'subscribe',
      'subscription',
      'mailing list',
      'sign up for',
      'get (?:the latest|updates|our)',
      'stay (?:informed|in touch|up to date)',
      'latest news',
      'deals',
      'offers',
      'abonnieren',
      "s'abonner",
      'suscr[ií]b',
      'inscreva',
      'iscriviti alla',
      'подписаться',
      'підписатися',
      'zapisz się',
    ],
    ['メルマガ', '订阅', '訂閱', '구독'],
  );
  const CHECKOUT_WORDS = words(
    [
      'checkout',
      'check out',
      'payment',
      'billing',
      'shipping',
      'delivery',
      'place order',
      'card number',
      'credit card',
      'debit card',
      'cvv',
      'cvc',
      'expiration',
      'gift card',
      'promo code',
      'coupon',
      'zahlung',
      'paiement',
      'pago',
      'pagamento',
      'оплата',
    ],
    [],
  );
  // A code sent by mail or text message: blindfill can only fill codes it can compute.
  const SENT_CODE_WORDS = words(
    [
      'sent (?:to|a|you)',
      'we (?:e-?mailed|texted|sent)',
      'check your (?:e-?mail|inbox|phone|spam)',
      'spam',
      'junk',
      'text message',
      'sms',
      'receiving a [a-z -]*code at',
      'resend',
      'email (?:verification|confirmation)',
      'confirm your e-?mail',
      'verify your e-?mail',
      'gesendet',
      'envoyé',
      'enviado',
      'inviato',
      'отправлен',
      'надіслан',
      'wysłan',
    ],
    ['送信しました', '已发送', '발송'],
  );
  const APP_CODE_WORDS = new RegExp(
    [
      'authenticat(?:or|ion) app',
      'authenticator',
      'google auth',
      'totp',
      '2fa app',
      'app code',
      'code from (?:your|the) app',
    ].join('|'),
    'iu',
  );
  const CHANGE_WORDS = words(
    [
      '(?:change|update|reset|new|choose|create) (?:your )?password',
      'current password',
      'old password',
      'passwort ändern',
      'neues passwort',
      'changer (?:le|votre) mot de passe',
      'cambiar (?:la |tu )?contraseña',
      'nueva contraseña',
      'изменить пароль',
      'новый пароль',
    ],
    ['パスワード変更', '修改密码', '비밀번호 변경'],
  );
  const SEARCH_WORDS = words(
    ['search', 'suche', 'recherche', 'buscar', 'поиск', 'find'],
    ['検索', '搜索', '검색'],
  );

  // 'Username' and 'e-mail' in other languages, shared by the loose and the clear match.
  const USERNAME_WORDS_ABROAD = [
    'benutzer',
    'utilisateur',
    'identifiant',
    'usuario',
    'usuário',
    'utente',
    'gebruiker',
    'логин',
    'почт',
    'пользовател',
    'користувач',
    'użytkownik',
    'uživatel',
    'ユーザ',
    'メール',
    '用户',
    '帳號',
    '帐号',
    '账号',
    '邮箱',
    '아이디',
    '이메일',
    'kullanıcı',
    'نام کاربری',
    'ایمیل',
    'البريد',
    'correo',
    'courriel',
  ];

  // Field attributes (name, id, autocomplete, class, placeholder, ...), matched loosely.
  const USERNAME_ATTR = new RegExp(
    [
      'user',
      'login',
      'e-?mail',
      'mail',
      'account',
      'acct',
      'ident',
      'uname',
      'handle',
      'member',
      'customer',
      'client',
      'phone',
      'mobile',
      'msisdn',
      'nick',
      'tài khoản',
      '(?:^| )id(?: |$)',
      'cpf',
      ...USERNAME_WORDS_ABROAD,
    ].join('|'),
    'iu',
  );
  const NOT_USERNAME_ATTR = new RegExp(
    [
      'search',
      'query',
      'captcha',
      'coupon',
      'promo',
      'voucher',
      'zip',
      'postal',
      'post ?code',
      'city',
      'street',
      '(?<!mail )address',
      'first ?name',
      'last ?name',
      'full ?name',
      'given',
      'family',
      'surname',
      'fname',
      'lname',
      'company',
      'organi[sz]ation',
      'subject',
      'message',
      'comment',
      'amount',
      'quantity',
      'qty',
      'birth',
      'dob',
      'gender',
      'country',
      'card',
      'cvv',
      'cvc',
      'iban',
      'ssn',
      'confirm',
      'repeat',
      'retype',
      're-?enter',
      'again',
      'answer',
      'question',
      'url',
      'website',
      'price',
      'recipient',
      'friend',
      'referral',
      'invite',
      'display ?name',
      'screen ?name',
    ].join('|'),
    'iu',
  );
  // Words that argue against a username only when nothing argues for one.
  const WEAK_NOT_USERNAME_ATTR = /(?:^| )q(?: |$)|verify|otp|code|token|pin/iu;
  const OTP_ATTR = new RegExp(
    [
      'one-?time-?code',
      '(?:^| )t?otp',
      'one ?time',
      '2fa',
      'two[- ]?factor',
      'mfa',
      'authenticator',
      'verification ?code',
      'security ?code',
      'auth(?:entication)? ?code',
      'passcode',
      'sms ?code',
      'login ?code',
      'código de verificación',
      'bestätigungscode',
      'code de (?:vérification|sécurité)',
      'код подтверждения',
      'код из смс',
      '認証コード',
      '验证码',
      '인증번호',
      'mã xác (?:minh|thực)',
    ].join('|'),
    'iu',
  );
  const NEW_PASSWORD_ATTR = new RegExp(
    [
      'new',
      'confirm',
      'repeat',
      'retype',
      're-?enter',
      'again',
      'verify',
      'verification',
      'create',
      'choose',
      'neues',
      'nouveau',
      'nueva',
      'nuevo',
      'bestätig',
      'wiederhol',
      'confirmer',
      'confirmar',
      'ripeti',
      'conferma',
      'повтор',
      'подтверд',
      'новый',
      'nowe',
      'powtórz',
      'potvr',
      'nové',
      'xác nhận',
      'tekrar',
      '確認',
      '再入力',
      '确认',
      '再次',
      '확인',
      'تکرار',
      'تأكيد',
    ].join('|'),
    'iu',
  );
  const PASSWORD_NAME = new RegExp(
    '(?:^| )(?:pass ?word|passwd|pwd|passwort|contraseña|mot de passe|senha|wachtwoord|' +
      'пароль|hasło|heslo|パスワード|密码|密碼|비밀번호)(?![a-z])',
    'iu',
  );
  const PASSWORD_NAME_NOT =
    /confirm|repeat|retype|again|hint|forgot|reset|new|question|recover/iu;
  const CURRENT_PASSWORD_ATTR =
    /current|old|existing|aktuell|actuel|actual|текущ|старый|現在/iu;
  const CARD_ATTR = /(?:^| )cc|card|cvv|cvc|csc|expir|iban|routing|ssn|pin ?code/iu;
  const PERSON_ATTR = new RegExp(
    [
      'first ?name',
      'last ?name',
      'full ?name',
      'given-name',
      'family-name',
      'fname',
      'lname',
      'surname',
      'birth',
      'bday',
      'dob',
      'gender',
      'vorname',
      'nachname',
      'prénom',
      'nombre',
      'apellido',
      'имя',
      'фамилия',
      'imię',
      'nazwisko',
      'jméno',
      'příjmení',
      '姓',
      '名前',
      '이름',
    ].join('|'),
    'iu',
  );
  const TERMS_TEXT = new RegExp(
    [
      'terms',
      'agree',
      'privacy',
      'accept',
      'conditions',
      'agb',
      'datenschutz',
      'acepto',
      'términos',
      'условия',
      'согласен',
      'regulamin',
      'souhlas',
      '規約',
      '同意',
      '약관',
    ].join('|'),
    'iu',
  );
  const PASSWORD_RULES_TEXT = new RegExp(
    [
      'at least \\d+ characters',
      'must (?:contain|include|be at least)',
      'mindestens \\d+ zeichen',
      'au moins \\d+ caractères',
      'al menos \\d+ caracteres',
      'не менее \\d+ символ',
      'minimum \\d+ characters',
      '\\d+ or more characters',
      'password strength',
    ].join('|'),
    'iu',
  );

  // A username the page names plainly. Unlike USERNAME_ATTR this leaves out words such as
  // account, member, customer, phone or id, which as often name a number that is not what
  // the person signs in with (a branch, an account or a contract number side by side).
  const CLEAR_USERNAME = new RegExp(
    [
      '(?:^| )(?:user ?name|user ?id|userid|log ?in|sign ?in|e-?mail|mail|uname)(?![a-z])',
      'email address',
      ...USERNAME_WORDS_ABROAD,
    ].join('|'),
    'iu',
  );

  // Where a form sits on its page. A sign-in in the page's header or navigation, or in a
  // modal or pop-up that shows no sign of being open, is a shortcut beside the page's own
  // purpose; on a registration page it is not the form a sign-in should use.
  const Placement = Object.freeze({
    MAIN: 'main',
    HEADER: 'header',
    CLOSED_OVERLAY: 'closed_overlay',
  });
  // Class names of a modal or pop-up's outermost element (`modal`, `login-modal`,
  // `fh-modal`, `LoginDialog`), not of its parts (`modal-dialog`, `modal__body`).
  const OVERLAY_WORDS = 'modal|popup|pop-up|popover|lightbox|dialog|flyout|drawer|offcanvas';
  const OVERLAY_CLASS = new RegExp(
    `^(?:[a-z0-9]+[-_])*(?:${OVERLAY_WORDS})$|dropdown-menu$`,
    'i',
  );
  const OVERLAY_CAMEL_CLASS = /[a-z0-9](?:Modal|Popup|Popover|Dialog|Flyout|Drawer)$/;
  const OVERLAY_PART_CLASS = new RegExp(`(?:${OVERLAY_WORDS})[-_]+(?:${OVERLAY_WORDS})$`, 'i');
  // Class names libraries give an open modal, menu or tab (`show`, `in`, `is-open`,
  // `modal--visible`, `ReactModal__Content--after-open`).
  const OPEN_STATES = 'show|shown|open|opened|active|visible|expanded';
  const OPEN_CLASS = new RegExp(`^(?:in|${OPEN_STATES})$|[-_](?:${OPEN_STATES})$`, 'i');
  // Classes on <html> or <body> that say some modal is open right now.
  const PAGE_OVERLAY_OPEN_CLASS = new RegExp(
    `(?:modal|dialog|popup|overlay|lightbox)[-_]?(?:is[-_])?(?:${OPEN_STATES})`,
    'i',
  );
  const MAX_PLACEMENT_CLIMB = 60;

  const FIELD_SELECTOR =
    'input:not([type=hidden]):not([type=checkbox]):not([type=radio])' +
    ':not([type=submit]):not([type=button]):not([type=image]):not([type=reset])';
  const BUTTON_SELECTOR =
    'button, input[type=submit], input[type=button], input[type=image], [role=button]';
  const TEXT_TYPES = new Set(['text', 'email', 'tel', 'number', 'url', '']);
  const SKIP_TYPES = new Set([
    'hidden',
    'submit',
    'button',
    'reset',
    'image',
    'checkbox',
    'radio',
    'file',
    'range',
    'color',
    'date',
    'datetime-local',
    'month',
    'week',
    'time',
  ]);

  // --- Small helpers --------------------------------------------------------------------

  // Called once at load: the document's random identity, never shown to the page.
  function makeNonce() {
    const bytes = new Uint8Array(16);
    win.crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');
  }

  // Called at load to build one matcher from Latin words (with edges) and other scripts.
  function words(latin, other) {
    const parts = [];
    if (latin.length)
      parts.push(`(?:^|[^\\p{L}\\p{N}])(?:${latin.join('|')})(?![\\p{L}\\p{N}])`);
    if (other.length) parts.push(`(?:${other.join('|')})`);
    return new RegExp(parts.join('|') || '(?!)', 'iu');
  }

  // Called on every piece of text read: lower case, single spaces, bounded length.
  function norm(text, limit) {
    const s = String(text || '')
      .replace(/\s+/g, ' ')
      .trim()
      .toLowerCase();
    return limit && s.length > limit ? s.slice(0, limit) : s;
  }

  // Called on attribute values: splits camelCase and separators so `userEmail` reads as words.
  function normAttr(text) {
    return norm(
      String(text || '')
        .replace(/([a-z])([A-Z])/g, '$1 $2')
        .replace(/[_\-.[\]:]+/g, ' '),
    );
  }

  // Called on each answer sent to the browser side: no field values, only labels and kinds.
  function notify(event) {
    if (!binding) return;
    try {
      binding(JSON.stringify({ v: SHIM_VERSION, nonce, ...event }));
    } catch (_err) {
      // The binding disappears when the world is torn down; nothing to report then.
    }
  }

  // --- Finding inputs, through open shadow roots ----------------------------------------

  // Called by describe: every <input> of the document and its open shadow roots, in order.
  function collectInputs() {
    const found = [];
    const roots = [doc];
    for (let i = 0; i < roots.length; i += 1) {
      const root = roots[i];
      for (const el of root.querySelectorAll('input')) found.push({ el, root });
      for (const el of root.querySelectorAll('*')) {
        if (el.shadowRoot) roots.push(el.shadowRoot);
      }
    }
    return found;
  }

  // --- Visibility, as a person sees it --------------------------------------------------

  // Called for each candidate field: is it seen? Returns {ok, reason, deferred, rect}.
  // `deferred` means the field is below or beside the visible area but reachable by
  // scrolling; its centre-point check then runs at fill time, after scrolling it in.
  function visibility(el) {
    if (!el.isConnected) return { ok: false, reason: 'detached' };
    const rect = el.getBoundingClientRect();
    if (rect.width < MIN_FIELD_PX || rect.height < MIN_FIELD_PX) {
      return { ok: false, reason: 'too_small' };
    }
    const style = getComputedStyleOf(el);
    if (style.visibility !== 'visible') return { ok: false, reason: 'visibility' };
    if (style.display === 'none') return { ok: false, reason: 'display' };
    const chain = ancestorCheck(el, rect);
    if (!chain.ok) return chain;

    // Off the page entirely (negative coordinates or past the scrollable area).
    const docEl = doc.documentElement;
    const pageX = rect.left + win.scrollX;
    const pageY = rect.top + win.scrollY;
    const scrollW = Math.max(docEl.scrollWidth, doc.body ? doc.body.scrollWidth : 0);
    const scrollH = Math.max(docEl.scrollHeight, doc.body ? doc.body.scrollHeight : 0);
    if (
      pageX + rect.width <= 0 ||
      pageY + rect.height <= 0 ||
      pageX >= scrollW ||
      pageY >= scrollH
    ) {
      return { ok: false, reason: 'off_screen' };
    }
    const cx = rect.left + rect.width / 2;
    const cy = rect.top + rect.height / 2;
    if (cx < 0 || cy < 0 || cx >= win.innerWidth || cy >= win.innerHeight) {
      return { ok: true, deferred: true, rect };
    }
    if (!hitsField(el, cx, cy)) return { ok: false, reason: 'covered' };
    return { ok: true, deferred: false, rect };
  }

  // Called by visibility: opacity, visibility and clipping of every ancestor, across
  // shadow boundaries. Clipping counts when an overflow-clipping ancestor shows almost
  // none of the field.
  function ancestorCheck(el, rect) {
    let opacity = 1;
    let node = el;
    while (node) {
      if (node.nodeType === 1) {
        const style = getComputedStyleOf(node);
        opacity *= Number.parseFloat(style.opacity) || 0;
        if (opacity < MIN_OPACITY) return { ok: false, reason: 'transparent' };
        if (style.display === 'none') return { ok: false, reason: 'display' };
        if (
          node !== el &&
          node !== doc.documentElement &&
          node !== doc.body &&
          style.overflow !== 'visible'
        ) {
          const box = node.getBoundingClientRect();
          const w = Math.min(rect.right, box.right) - Math.max(rect.left, box.left);
          const h = Math.min(rect.bottom, box.bottom) - Math.max(rect.top, box.top);
          if (w < MIN_FIELD_PX || h < MIN_FIELD_PX) return { ok: false, reason: 'clipped' };
        }
      }
      node = node.parentNode || (node.host ? node.host : null);
      if (node && node.nodeType === 11) node = node.host || null; // shadow root to host
      if (node === doc) break;
    }
    return { ok: true };
  }

  // Called with a point inside the viewport: does the topmost element there belong to the
  // field (the field itself, or a label for it laid over it)? Descends open shadow roots.
  function hitsField(el, x, y) {
    let hit = doc.elementFromPoint(x, y);
    while (hit && hit.shadowRoot && hit !== el) {
      const inner = hit.shadowRoot.elementFromPoint(x, y);
      if (!inner || inner === hit) break;
      hit = inner;
    }
    if (!hit) return false;
    if (hit === el) return true;
    const label = hit.closest ? hit.closest('label') : null;
    return Boolean(label && label.control === el);
  }

  // --- Reading the words around a field and a form --------------------------------------

  // Called per candidate field: its attributes as one lower-case string.
  function fieldAttrs(el) {
    const parts = [];
    for (const name of [
      'name',
      'id',
      'autocomplete',
      'placeholder',
      'aria-label',
      'title',
      'class',
      'formcontrolname',
      'ng-model',
      'v-model',
    ]) {
      const v = el.getAttribute(name);
      if (v) parts.push(normAttr(v));
    }
    // Test and automation hooks often name the field plainly (data-testid="signInEmail").
    const attributes = el.attributes;
    for (let i = 0; i < attributes.length && i < 24; i += 1) {
      const attr = attributes[i];
      if (attr.name.startsWith('data-') && attr.value.length < 60)
        parts.push(normAttr(attr.value));
    }
    return parts.join(' ');
  }

  // Called per candidate field: the attributes that name or describe it, without hints.
  function describedBy(el) {
    const parts = [];
    for (const name of ['name', 'id', 'placeholder', 'aria-label', 'title']) {
      const v = el.getAttribute(name);
      if (v) parts.push(normAttr(v));
    }
    return parts.join(' ');
  }

  // Called per candidate field: the text a person reads as its label.
  function fieldLabel(el, root) {
    const parts = [];
    if (el.labels) for (const label of el.labels) parts.push(label.textContent);
    const labelledBy = el.getAttribute('aria-labelledby');
    if (labelledBy) {
      for (const id of labelledBy.split(/\s+/)) {
        const ref = root.getElementById ? root.getElementById(id) : null;
        if (ref) parts.push(ref.textContent);
      }
    }
    if (!parts.length) parts.push(nearbyText(el));
    return norm(parts.join(' '), MAX_LABEL_CHARS);
  }

  // Called when a field has no label: the closest short text before it.
  function nearbyText(el) {
    let node = el;
    for (let depth = 0; depth < 3 && node; depth += 1) {
      let sib = node.previousSibling;
      for (let n = 0; n < 3 && sib; n += 1, sib = sib.previousSibling) {
        if (
          sib.nodeType === 1 &&
          sib.querySelector &&
          sib.querySelector('input, select, textarea')
        ) {
          return '';
        }
        const text = norm(sib.textContent, MAX_LABEL_CHARS);
        if (text) return text;
      }
      node = node.parentElement;
    }
    return '';
  }

  // Called per form: its text sorted by where it appears (buttons, headings, links, rest).
  function formText(container) {
    const out = { buttons: '', headings: '', links: '', body: '', attrs: '' };
    if (container.nodeType === 1) {
      out.attrs = [
        container.getAttribute('id'),
        container.getAttribute('name'),
        container.getAttribute('class'),
        container.getAttribute('action'),
        container.getAttribute('aria-label'),
      ]
        .map(normAttr)
        .join(' ');
    }
    const walker = doc.createTreeWalker(container, NodeFilter.SHOW_TEXT);
    let chars = 0;
    for (let n = 0; n < MAX_TEXT_NODES && chars < MAX_TEXT_CHARS; n += 1) {
      const node = walker.nextNode();
      if (!node) break;
      const text = norm(node.nodeValue, MAX_LABEL_CHARS);
      if (!text) continue;
      const parent = node.parentElement;
      if (!parent || parent.closest('script, style, noscript, template, option')) continue;
      chars += text.length;
      if (parent.closest('button, [role=button]')) out.buttons += ` ${text}`;
      else if (parent.closest('h1, h2, h3, h4, h5, h6, legend, [role=heading]'))
        out.headings += ` ${text}`;
      else if (parent.closest('a')) out.links += ` ${text}`;
      else out.body += ` ${text}`;
    }
    const inputButtons = container.querySelectorAll(
      'input[type=submit], input[type=button], input[type=image]',
    );
    for (let i = 0; i < inputButtons.length && i < MAX_BUTTONS; i += 1) {
      const el = inputButtons[i];
      out.buttons += ` ${norm(el.getAttribute('value') || el.getAttribute('alt') || '')}`;
      out.attrs += ` ${normAttr(el.getAttribute('name'))} ${normAttr(el.getAttribute('id'))}`;
    }
    const buttons = container.querySelectorAll('button, [role=button]');
    for (let i = 0; i < buttons.length && i < MAX_BUTTONS; i += 1) {
      const el = buttons[i];
      out.attrs += ` ${normAttr(el.getAttribute('name'))} ${normAttr(el.getAttribute('id'))}`;
      const aria = el.getAttribute('aria-label');
      if (aria) out.buttons += ` ${norm(aria)}`;
    }
    out.headings += ` ${precedingHeading(container)}`;
    return out;
  }

  // Called per form: a heading or short text just before the form (e.g. <h2>Sign in</h2>).
  function precedingHeading(container) {
    let node = container;
    const found = [];
    for (let depth = 0; depth < 3 && node && node !== doc.body; depth += 1) {
      let sib = node.previousElementSibling;
      for (let n = 0; n < 3 && sib; n += 1, sib = sib.previousElementSibling) {
        if (sib.querySelector('input')) break;
        const text = norm(sib.textContent, 120);
        if (text && text.length < 120) found.push(text);
      }
      if (found.length) break;
      node = node.parentElement;
    }
    return found.join(' ');
  }

  // --- Classifying fields ---------------------------------------------------------------

  // Called per <input>: a cheap first look that drops what can never be a candidate.
  // A text box counts as a password box when the page masks it (-webkit-text-security) or
  // names it a password outright; sites do both to defeat password managers.
  function inputType(el) {
    const type = (el.getAttribute('type') || 'text').toLowerCase();
    if (SKIP_TYPES.has(type)) return null;
    if (type === 'text' && looksLikeMaskedPassword(el)) return 'password';
    return type;
  }

  // Called by inputType for text boxes only.
  function looksLikeMaskedPassword(el) {
    const masked = getComputedStyleOf(el).webkitTextSecurity;
    if (masked && masked !== 'none') return true;
    const said = describedBy(el);
    return PASSWORD_NAME.test(said) && !PASSWORD_NAME_NOT.test(said);
  }

  // Called per visible candidate: what this field is for. Returns a Role.
  function fieldRole(info) {
    const { type, attrs, label, el } = info;
    const auto = norm(el.getAttribute('autocomplete'));
    const text = `${attrs} ${label}`;
    // What the page says the field is, leaving out autocomplete hints and styling classes.
    const said = `${describedBy(el)} ${label}`;
    if (type === 'password') {
      if (/one-time-code/.test(auto)) return Role.OTP;
      if (/cc-|card/.test(auto) || CARD_ATTR.test(attrs)) return Role.OTHER;
      if (/current-password/.test(auto)) return Role.PASSWORD;
      if (
        OTP_ATTR.test(text) &&
        !/pass ?word|passwort|contraseña|mot de passe|пароль/iu.test(text)
      ) {
        return Role.OTP;
      }
      if (NEW_PASSWORD_ATTR.test(said) && !CURRENT_PASSWORD_ATTR.test(said))
        return Role.NEW_PASSWORD;
      return Role.PASSWORD;
    }
    // A search box is no username, unless its own name says it is one (some component
    // libraries render every text box as type=search).
    const explicit = /(?:^| )(?:user ?name|user ?id|login|e ?mail)(?![a-z])/.test(said);
    if (type === 'search') return explicit ? Role.USERNAME : Role.OTHER;
    if (/one-time-code/.test(auto)) return Role.OTP;
    if (
      /cc-|card|street|postal|address-|tel-|bday|given-name|family-name|^name$|organization/.test(
        auto,
      )
    ) {
      return /username|email/.test(auto) ? Role.USERNAME : Role.OTHER;
    }
    if (/(?:^| )(?:username|email|webauthn)(?: |$)/.test(auto)) return Role.USERNAME;
    if (CARD_ATTR.test(attrs)) return Role.OTHER;
    if (OTP_ATTR.test(text) && !/mail/.test(attrs)) return Role.OTP;
    if (type === 'email') {
      return NOT_USERNAME_ATTR.test(attrs) && /confirm|repeat|retype|again|verify/.test(text)
        ? Role.OTHER
        : Role.USERNAME;
    }
    if (NOT_USERNAME_ATTR.test(attrs) && !explicit) return Role.OTHER;
    if (USERNAME_ATTR.test(attrs)) return Role.USERNAME;
    if (USERNAME_ATTR.test(label) && !NOT_USERNAME_ATTR.test(label)) return Role.USERNAME;
    return Role.OTHER;
  }

  // --- Grouping fields into forms -------------------------------------------------------

  // Called by describe: the element that stands for a field's form. A <form> (including
  // one named by the `form` attribute); otherwise the nearest ancestor holding the field
  // and a button or another field, so fields without a <form> still group.
  function containerOf(el, fieldCounts) {
    if (el.form) return el.form;
    let node = el.parentElement;
    let withButton = null;
    for (let depth = 0; node && depth < MAX_CONTAINER_CLIMB; depth += 1) {
      if (node === doc.body || node === doc.documentElement) break;
      if ((fieldCounts.get(node) || 0) > 1) return withButton && depth > 3 ? withButton : node;
      if (!withButton && node.querySelector(BUTTON_SELECTOR)) withButton = node;
      node = node.parentElement;
    }
    if (withButton) return withButton;
    return el.getRootNode() instanceof ShadowRoot
      ? el.getRootNode().host
      : doc.body || doc.documentElement;
  }

  // Called once per describe: for each element near a field outside any <form>, how many
  // such fields it holds. Counting from the fields up keeps describe linear in page size.
  function countFieldsAround(entries) {
    const counts = new Map();
    for (const { el } of entries) {
      if (el.form) continue;
      let node = el.parentElement;
      for (let depth = 0; node && depth < MAX_CONTAINER_CLIMB; depth += 1) {
        counts.set(node, (counts.get(node) || 0) + 1);
        node = node.parentElement;
      }
    }
    return counts;
  }

  // Called by describe for each form: one <form> (or container) may hold several forms,
  // e.g. a sign-in and a registration side by side inside one page-wide <form>. Password
  // fields that follow each other (a password and its confirmation) make one cluster; each
  // cluster's block is the highest element around it that holds no other cluster's
  // password, and takes the fields inside it. Fields in no block form a rest segment.
  function splitByPasswords(container, fields) {
    const clusters = [];
    let previous = null;
    for (const f of fields) {
      if (f.type === 'password') {
        if (previous && previous.type === 'password') clusters[clusters.length - 1].push(f);
        else clusters.push([f]);
      }
      previous = f;
    }
    if (clusters.length < 2) return [{ container, fields }];
    const blocks = clusters.map((cluster) => {
      const others = clusters.filter((c) => c !== cluster).flat();
      let block = cluster[0].el;
      for (
        let node = block.parentElement;
        node && node !== container;
        node = node.parentElement
      ) {
        if (others.some((o) => node.contains(o.el))) break;
        block = node;
      }
      return block;
    });
    const segments = blocks.map((block) => ({ container: block, fields: [] }));
    const rest = [];
    for (const f of fields) {
      const at = blocks.findIndex((block) => block === f.el || block.contains(f.el));
      if (at >= 0) segments[at].fields.push(f);
      else rest.push(f);
    }
    if (rest.length) segments.push({ container, fields: rest });
    return segments;
  }

  // --- Classifying forms ----------------------------------------------------------------

  // Called per form with its visible candidate fields: kind, chosen fields, score.
  function classifyForm(container, fields, hiddenPasswords) {
    if (!fields.some((f) => f.type === 'password' || f.role !== Role.OTHER)) {
      // Nothing a sign-in could use: skip reading the form's text.
      const search =
        fields.some((f) => f.type === 'search') ||
        (container.getAttribute && container.getAttribute('role') === 'search');
      const kind = search ? Kind.SEARCH : Kind.OTHER;
      return { container, text: null, login: 0, signup: 0, kind, chosen: [] };
    }
    const text = formText(container);
    const everything = `${text.buttons} ${text.headings} ${text.body}`;
    const passwords = fields.filter(
      (f) => f.type === 'password' && f.role !== Role.OTP && f.role !== Role.OTHER,
    );
    const texts = fields.filter((f) => f.type !== 'password');
    const otps = fields.filter((f) => f.role === Role.OTP);
    const title = norm(doc.title, 200);

    // Evidence for each reading of the form.
    let login = 0;
    let signup = 0;
    if (LOGIN_WORDS.test(text.buttons)) login += 3;
    if (LOGIN_WORDS.test(text.attrs)) login += 2;
    if (/log ?in|sign ?in|logon|auth|session/.test(text.attrs)) login += 1;
    if (LOGIN_WORDS.test(text.headings)) login += 2;
    if (LOGIN_WORDS.test(text.body)) login += 1;
    if (FORGOT_WORDS.test(`${text.links} ${text.body} ${text.buttons}`)) login += 2;
    if (LOGIN_WORDS.test(title)) login += 1;
    if (SIGNUP_WORDS.test(text.buttons)) signup += 3;
    if (
      SIGNUP_WORDS.test(text.attrs) ||
      /regist|signup|sign up|join|create|enrol/.test(text.attrs)
    )
      signup += 2;
    if (SIGNUP_WORDS.test(text.headings)) signup += 2;
    if (SIGNUP_WORDS.test(text.body)) signup += 1;
    if (SIGNUP_WORDS.test(title)) signup += 1;
    if (PASSWORD_RULES_TEXT.test(everything)) signup += 1.5;
    if (fields.some((f) => PERSON_ATTR.test(`${f.attrs} ${f.label}`))) signup += 2;
    if (container.querySelector && hasTermsCheckbox(container)) signup += 1.5;
    if (passwords.some((f) => f.role === Role.NEW_PASSWORD)) signup += 3;
    if (passwords.some((f) => /new-password/.test(f.autocomplete))) signup += 2.5;
    if (passwords.some((f) => /current-password/.test(f.autocomplete))) login += 2;
    const plainTexts = texts.filter((f) => f.role !== Role.OTP);
    if (plainTexts.length >= 3) signup += 1.5 * (plainTexts.length - 2);
    if (container.querySelector && container.querySelectorAll('select').length >= 2)
      signup += 1.5;

    const base = { container, text, login, signup };
    if (passwords.length >= 2) {
      const current = passwords.some(
        (f) =>
          CURRENT_PASSWORD_ATTR.test(`${f.attrs} ${f.label}`) ||
          /current-password/.test(f.autocomplete),
      );
      const kind =
        current || CHANGE_WORDS.test(everything) ? Kind.CHANGE_PASSWORD : Kind.SIGNUP;
      return { ...base, kind, chosen: [] };
    }
    if (passwords.length === 1) {
      const pw = passwords[0];
      if (pw.role === Role.NEW_PASSWORD) {
        return { ...base, kind: Kind.SIGNUP, chosen: [] };
      }
      if (signup > login) return { ...base, kind: Kind.SIGNUP, chosen: [] };
      const user = pickUsername(fields, pw);
      if (user) {
        return {
          ...base,
          kind: Kind.LOGIN,
          chosen: [
            [user, Role.USERNAME],
            [pw, Role.PASSWORD],
          ],
        };
      }
      if (plainTexts.length > 1 && login < 2) return { ...base, kind: Kind.OTHER, chosen: [] };
      return { ...base, kind: Kind.PASSWORD_STEP, chosen: [[pw, Role.PASSWORD]] };
    }
    if (otps.length === 1 && plainTexts.length === 0 && otps[0].maxLength !== 1) {
      if (signup > login + 1) return { ...base, kind: Kind.SIGNUP, chosen: [] };
      const around = `${everything} ${text.links} ${otps[0].label}`;
      if (SENT_CODE_WORDS.test(around) && !APP_CODE_WORDS.test(around)) {
        return { ...base, kind: Kind.OTHER, chosen: [] }; // a mailed or texted code
      }
      return { ...base, kind: Kind.OTP, chosen: [[otps[0], Role.OTP]] };
    }
    return classifyWithoutPassword(base, plainTexts, everything, hiddenPasswords);
  }

  // Called by classifyForm when no password is visible: a username step, or a form that is
  // recognised and never filled (search, newsletter, checkout, signup step, other).
  function classifyWithoutPassword(base, plainTexts, everything, hiddenPasswords) {
    const { container, text } = base;
    const users = plainTexts.filter((f) => f.role === Role.USERNAME);
    if (
      container.getAttribute &&
      (container.getAttribute('role') === 'search' ||
        plainTexts.some((f) => f.type === 'search'))
    ) {
      return { ...base, kind: Kind.SEARCH, chosen: [] };
    }
    if (CHECKOUT_WORDS.test(everything) && !LOGIN_WORDS.test(text.buttons)) {
      return { ...base, kind: Kind.CHECKOUT, chosen: [] };
    }
    if (users.length !== 1 || plainTexts.length !== 1) {
      return { ...base, kind: users.length ? Kind.OTHER : Kind.OTHER, chosen: [] };
    }
    const user = users[0];
    if (SEARCH_WORDS.test(`${user.attrs} ${user.label}`))
      return { ...base, kind: Kind.SEARCH, chosen: [] };
    if (
      NEWSLETTER_WORDS.test(everything) &&
      !FORGOT_WORDS.test(`${everything} ${text.links}`) &&
      !hiddenPasswords
    ) {
      return { ...base, kind: Kind.NEWSLETTER, chosen: [] };
    }
    if (base.signup > base.login) return { ...base, kind: Kind.SIGNUP, chosen: [] };
    // A lone username field is a sign-in step only with sign-in words on or near it.
    let evidence = base.login;
    const fieldSaysLogin =
      LOGIN_WORDS.test(user.attrs) || /login|signin|logon/.test(user.attrs.replace(/ /g, ''));
    if (hiddenPasswords) evidence += 2;
    if (fieldSaysLogin) evidence += 2;
    const markedUsername = /(?:^| )username(?: |$)/.test(user.autocomplete);
    if (markedUsername) evidence += 2;
    // A field the page marks as an account's username, alone in its form, sent on with
    // "Next": the first step of a two-step sign-in even where no sign-in word is written.
    if (NEXT_WORDS.test(text.buttons) && (base.login > 0 || fieldSaysLogin || markedUsername))
      evidence += 1;
    if (evidence < 3) return { ...base, kind: Kind.OTHER, chosen: [] };
    return { ...base, kind: Kind.USERNAME_STEP, chosen: [[user, Role.USERNAME]] };
  }

  // Called by classifyForm: the username that goes with a password field. Prefer a field
  // recognised as a username before the password; never one after it.
  function pickUsername(fields, pw) {
    const before = fields.filter(
      (f) => f.type !== 'password' && f.order < pw.order && f.role !== Role.OTP,
    );
    // Several fields compete (a branch, an account and a contract number, say) and none
    // is plainly named a username: words like "account" decide nothing then. Take the
    // one nearest the password, as browsers' password managers do, so the field matches
    // what a vault item saved from a browser holds.
    const candidates = before.filter((f) => f.role === Role.USERNAME || plainCandidate(f));
    if (candidates.length >= 2 && !candidates.some(clearlyUsername)) {
      return candidates[candidates.length - 1];
    }
    let best = null;
    let bestScore = 0;
    for (const f of before) {
      if (f.role !== Role.USERNAME) continue;
      const score = usernameEvidence(f);
      if (score >= bestScore) {
        best = f;
        bestScore = score;
      }
    }
    // The field right before the password, when nothing says it is something else.
    const nearest = before.length ? before[before.length - 1] : null;
    const plainNearest = nearest && plainCandidate(nearest);
    if (best && (bestScore > 2 || !plainNearest)) return best;
    return plainNearest ? nearest : best;
  }

  // Called by pickUsername: a text field nothing names, which may hold the username.
  function plainCandidate(f) {
    return (
      f.role === Role.OTHER &&
      TEXT_TYPES.has(f.type) &&
      f.type !== 'number' &&
      !NOT_USERNAME_ATTR.test(f.attrs) &&
      (!NOT_USERNAME_ATTR.test(f.label) || USERNAME_ATTR.test(f.label))
    );
  }

  // Called by pickUsername: does the field say outright that it takes the username?
  function clearlyUsername(f) {
    if (/(?:^| )(?:username|email|webauthn)(?: |$)/.test(f.autocomplete)) return true;
    if (f.type === 'email') return true;
    return CLEAR_USERNAME.test(`${describedBy(f.el)} ${f.label}`);
  }

  // Called by pickUsername: how strongly a username-like field says it is the username.
  function usernameEvidence(f) {
    let score = 0;
    if (/(?:^| )(?:username|email|webauthn)(?: |$)/.test(f.autocomplete)) score += 5;
    if (f.type === 'email') score += 3;
    const said = describedBy(f.el);
    if (/(?:^| )(?:user ?name|user ?id|login|e ?mail|account)(?: |$)/.test(said)) score += 3;
    if (USERNAME_ATTR.test(said)) score += 2;
    if (USERNAME_ATTR.test(f.label)) score += 1;
    return score;
  }

  // Called by classifyForm: is there a checkbox about terms or privacy?
  function hasTermsCheckbox(container) {
    const boxes = container.querySelectorAll('input[type=checkbox]');
    for (let i = 0; i < boxes.length && i < MAX_BUTTONS; i += 1) {
      const box = boxes[i];
      const label =
        box.labels && box.labels.length ? box.labels[0].textContent : nearbyText(box);
      const near = `${label} ${box.parentElement ? box.parentElement.textContent : ''}`;
      if (TERMS_TEXT.test(norm(near, 300))) return true;
    }
    return false;
  }

  // --- Where a form sits on its page ----------------------------------------------------

  // Called by describe for fillable and signup forms: the Placement of a form, read from
  // its first field upwards (a form's own container may be a block that holds the header).
  // On a live page the site's styles usually hide a closed modal, whose fields are then
  // refused as invisible; its class names decide where the fields still show.
  function placementOf(field) {
    const pageOpen = PAGE_OVERLAY_OPEN_CLASS.test(
      `${doc.documentElement.className} ${doc.body ? doc.body.className : ''}`,
    );
    let inBanner = false;
    let node = parentAcrossShadow(field);
    for (let depth = 0; node && depth < MAX_PLACEMENT_CLIMB; depth += 1) {
      if (node === doc.body || node === doc.documentElement) break;
      if (!pageOpen && isOverlay(node) && !looksOpen(node)) return Placement.CLOSED_OVERLAY;
      if (isBannerOrNavigation(node)) inBanner = true;
      node = parentAcrossShadow(node);
    }
    return inBanner ? Placement.HEADER : Placement.MAIN;
  }

  // Called by placementOf: the parent element, stepping from a shadow root to its host.
  function parentAcrossShadow(node) {
    if (node.parentElement) return node.parentElement;
    const root = node.getRootNode();
    return root instanceof ShadowRoot ? root.host : null;
  }

  // Called by placementOf: the page's header (a <header> outside any article, section,
  // aside or main, as HTML defines the banner) or a navigation block.
  function isBannerOrNavigation(node) {
    const tag = node.localName;
    const role = node.getAttribute('role');
    if (role === 'banner' || role === 'navigation' || tag === 'nav') return true;
    if (tag !== 'header') return false;
    const parent = node.parentElement;
    return !parent || !parent.closest('article, aside, main, nav, section, [role=main]');
  }

  // Called by placementOf: is this element the outside of a modal, pop-up or menu?
  function isOverlay(node) {
    if (node.localName === 'dialog') return true;
    const role = node.getAttribute('role');
    if (role === 'dialog' || role === 'alertdialog') return true;
    const cls = node.getAttribute('class');
    if (!cls) return false;
    for (const token of cls.split(/\s+/)) {
      if (OVERLAY_PART_CLASS.test(token)) continue;
      if (OVERLAY_CLASS.test(token) || OVERLAY_CAMEL_CLASS.test(token)) return true;
    }
    return false;
  }

  // Called by placementOf for an overlay: does the page mark it as open? Modal and menu
  // libraries add an open class, an `open` attribute or an inline display to what they
  // show (on the overlay, or on the menu's parent); a `:target` modal is named by the URL.
  function looksOpen(node) {
    if (node.hasAttribute('open') || node.getAttribute('aria-hidden') === 'false') return true;
    if (node.getAttribute('data-state') === 'open') return true;
    const display = node.style ? node.style.display : '';
    if (display && display !== 'none') return true;
    const id = node.getAttribute('id');
    if (id && win.location.hash === `#${id}`) return true;
    for (const el of [node, node.parentElement]) {
      const cls = el ? el.getAttribute('class') : null;
      if (cls && cls.split(/\s+/).some((token) => OPEN_CLASS.test(token))) return true;
    }
    return false;
  }

  // Called by describe once every form of the document is classified. A registration page
  // (a signup form in the page's main part) may also offer a sign-in in its header or in a
  // closed modal; that shortcut is withheld. Sign-ins in the main part are left alone: a
  // page with a sign-in and a registration side by side serves both.
  function withholdShortcuts(verdicts) {
    const registration = verdicts.some(
      (v) => v.kind === Kind.SIGNUP && v.placement === Placement.MAIN,
    );
    if (!registration) return verdicts;
    return verdicts.map((v) =>
      FILLABLE_KINDS.has(v.kind) && v.placement !== Placement.MAIN
        ? { ...v, kind: Kind.OTHER, chosen: [], note: 'shortcut_on_registration_page' }
        : v,
    );
  }

  // --- Bookkeeping of what describe handed out -----------------------------------------

  const fieldsById = new Map(); // field id -> WeakRef(element)
  const formsById = new Map(); // form id -> WeakRef(container)
  const idsOfElements = new WeakMap(); // element or container -> id
  let nextId = 1;

  // Called whenever describe reports an element: a stable id for it in this document.
  function idFor(el, table) {
    let id = idsOfElements.get(el);
    if (!id) {
      id = `${table === formsById ? 'f' : 'e'}${nextId}`;
      nextId += 1;
      idsOfElements.set(el, id);
    }
    table.set(id, new WeakRef(el));
    return id;
  }

  // Called by describe: a CSS selector for a field in its own root, for people reading output.
  function selectorFor(el) {
    const parts = [];
    let node = el;
    while (node && node.nodeType === 1) {
      const id = node.getAttribute('id');
      if (id && /^[A-Za-z][\w-]*$/.test(id)) {
        const root = node.getRootNode();
        if (root.querySelectorAll(`#${id}`).length === 1) {
          parts.unshift(`#${id}`);
          break;
        }
      }
      const tag = node.localName;
      if (tag === 'body' || tag === 'html') {
        parts.unshift(tag);
        if (tag === 'body') break;
        node = node.parentElement;
        continue;
      }
      let index = 1;
      for (let sib = node.previousElementSibling; sib; sib = sib.previousElementSibling) {
        if (sib.localName === tag) index += 1;
      }
      parts.unshift(`${tag}:nth-of-type(${index})`);
      node = node.parentElement;
    }
    const local = parts.join(' > ');
    const root = el.getRootNode();
    return root instanceof ShadowRoot ? `${selectorFor(root.host)} >>> ${local}` : local;
  }

  // --- Requests -------------------------------------------------------------------------

  // DESCRIBE: every form in this document with its kind, its fields and their visibility.
  function describe(request) {
    const started = win.performance.now();
    const all = collectInputs();
    const topInputs = doc.querySelectorAll('input');
    const indexOf = new Map();
    topInputs.forEach((el, i) => indexOf.set(el, i));

    // Visible candidate fields, grouped by form.
    const groups = new Map();
    const hiddenPasswordForms = new Set();
    const rejected = [];
    let order = 0;
    const entries = all.filter(({ el }) => inputType(el) !== null);
    const fieldCounts = countFieldsAround(entries);
    for (const { el, root } of entries) {
      order += 1;
      const type = inputType(el);
      const container = containerOf(el, fieldCounts);
      const vis = visibility(el);
      if (!vis.ok) {
        if (type === 'password') hiddenPasswordForms.add(container);
        if (request.debug)
          rejected.push({ input_index: indexOf.get(el), type, reason: vis.reason });
        continue;
      }
      const attrs = fieldAttrs(el);
      const info = {
        el,
        root,
        type,
        order,
        attrs,
        label: fieldLabel(el, root),
        autocomplete: norm(el.getAttribute('autocomplete')),
        maxLength: el.maxLength,
        deferred: Boolean(vis.deferred),
      };
      info.role = fieldRole(info);
      if (request.debug) {
        rejected.push({
          input_index: indexOf.get(el),
          type,
          role: info.role,
          attrs,
          label: info.label,
        });
      }
      if (!groups.has(container)) groups.set(container, []);
      groups.get(container).push(info);
    }

    let verdicts = [];
    for (const [container, fields] of groups) {
      const hidden = hiddenPasswordForms.has(container);
      for (const segment of splitByPasswords(container, fields)) {
        const verdict = classifyForm(segment.container, segment.fields, hidden);
        verdict.fields = segment.fields;
        if (FILLABLE_KINDS.has(verdict.kind) || verdict.kind === Kind.SIGNUP)
          verdict.placement = placementOf(segment.fields[0].el);
        verdicts.push(verdict);
      }
    }
    verdicts = withholdShortcuts(verdicts);
    const forms = verdicts.map((verdict) => report(verdict, indexOf));
    return {
      nonce,
      url: String(win.location.href),
      forms,
      inputs: all.length,
      rejected,
      elapsed_ms: win.performance.now() - started,
    };
  }

  // Called by describe: the JSON view of one classified form.
  function report(verdict, indexOf) {
    const { container, fields } = verdict;
    const chosen = verdict.chosen.map(([f, role]) => ({
      id: idFor(f.el, fieldsById),
      role,
      input_index: indexOf.has(f.el) ? indexOf.get(f.el) : null,
      selector: selectorFor(f.el),
      deferred: f.deferred,
    }));
    const inViewport = verdict.chosen.length > 0 && verdict.chosen.every(([f]) => !f.deferred);
    return {
      id: idFor(container, formsById),
      kind: verdict.kind,
      has_form_element: container instanceof HTMLFormElement,
      fields: chosen,
      field_count: fields.length,
      login_evidence: verdict.login,
      signup_evidence: verdict.signup,
      in_viewport: inViewport,
      placement: verdict.placement || Placement.MAIN,
      insecure_action: chosen.length > 0 && postsInsecurely(container),
      action: chosen.length > 0 ? target(container).url : null,
      note: verdict.note || null,
    };
  }

  // Called by fill, clear and submit: the element behind an id, if still in place.
  function lookup(table, id) {
    const ref = table.get(id);
    const el = ref ? ref.deref() : null;
    return el && el.isConnected ? el : null;
  }

  // Called by fill before touching anything: is this field still fit to receive `role`?
  function checkField(el, role, value) {
    if (!(el instanceof HTMLInputElement)) return Status.FIELD_GONE;
    if (el.disabled || el.readOnly) return Status.FIELD_LOCKED;
    const type = inputType(el);
    if (type === null) return Status.ROLE_MISMATCH;
    const info = {
      el,
      type,
      attrs: fieldAttrs(el),
      label: fieldLabel(el, el.getRootNode()),
    };
    const now = fieldRole(info);
    // A secret only goes into a field of its own kind.
    if (
      role === Role.PASSWORD &&
      (type !== 'password' || now === Role.OTP || now === Role.OTHER)
    ) {
      return Status.ROLE_MISMATCH;
    }
    if (role === Role.OTP && now !== Role.OTP) return Status.ROLE_MISMATCH;
    if (role === Role.USERNAME && (type === 'password' || now === Role.OTP))
      return Status.ROLE_MISMATCH;
    if (el.maxLength >= 0 && value.length > el.maxLength) return Status.VALUE_TOO_LONG;
    el.scrollIntoView({ block: 'center', inline: 'center' });
    const vis = visibility(el);
    if (!vis.ok || vis.deferred) return Status.FIELD_HIDDEN;
    return Status.OK;
  }

  // Called by fill and clear: set one value the way typing would, so frameworks see it.
  function setValue(el, value) {
    el.focus({ preventScroll: true });
    nativeValueSetter.call(el, value);
    el.dispatchEvent(new EventCtor('input', { bubbles: true, composed: true }));
    el.dispatchEvent(new EventCtor('change', { bubbles: true }));
  }

  // FILL: every named field is checked first; only then are values set. All or nothing.
  function fill(request) {
    if (request.nonce !== nonce) return { status: Status.DOCUMENT_CHANGED };
    const container = lookup(formsById, request.form);
    if (!container) return { status: Status.FORM_GONE };
    if (postsInsecurely(container)) return { status: Status.INSECURE_ACTION };
    const targets = [];
    for (const item of request.fields || []) {
      if (typeof item.value !== 'string' || !Object.values(Role).includes(item.role)) {
        return { status: Status.BAD_REQUEST };
      }
      const el = lookup(fieldsById, item.id);
      if (!el) return { status: Status.FIELD_GONE, role: item.role };
      const status = checkField(el, item.role, item.value);
      if (status !== Status.OK) return { status, role: item.role };
      targets.push([el, item]);
    }
    for (const [el, item] of targets) setValue(el, item.value);
    const filled = targets.map(([el, item]) => ({
      role: item.role,
      // Whether the page kept the value (a script may rewrite it); the value is not sent.
      kept: nativeValueGetter.call(el) === item.value,
    }));
    notify({ event: 'filled', roles: filled.map((f) => f.role) });
    return { status: Status.OK, filled };
  }

  // CLEAR: empty the named fields (after a refused submit, or to undo a fill).
  function clear(request) {
    if (request.nonce !== nonce) return { status: Status.DOCUMENT_CHANGED };
    let cleared = 0;
    for (const id of request.fields || []) {
      const el = lookup(fieldsById, id);
      if (el instanceof HTMLInputElement && nativeValueGetter.call(el) !== '') {
        setValue(el, '');
        cleared += 1;
      }
    }
    return { status: Status.OK, cleared };
  }

  // Called by action and submit: the button that would submit the form, if one shows.
  function submitButton(container) {
    const candidates = [];
    const form = formOf(container);
    if (form) {
      for (const el of formElementsGetter.call(form)) {
        if (
          (el instanceof HTMLButtonElement || el instanceof HTMLInputElement) &&
          (el.type === 'submit' || el.type === 'image') &&
          (form === container || container.contains(el))
        )
          candidates.push(el);
      }
    }
    if (!candidates.length) {
      for (const el of container.querySelectorAll(
        'button, input[type=submit], input[type=button], [role=button]',
      )) {
        const value = el.getAttribute('value') || '';
        const aria = el.getAttribute('aria-label') || '';
        const words = norm(`${el.textContent} ${value} ${aria}`);
        if (LOGIN_WORDS.test(words) || NEXT_WORDS.test(words)) candidates.push(el);
      }
    }
    for (const el of candidates) {
      if (el.disabled) continue;
      const vis = visibility(el);
      if (vis.ok) return el;
    }
    return null;
  }

  // Called by action and submit: the <form> a form's fields submit with, if any.
  function formOf(container) {
    if (container instanceof HTMLFormElement) return container;
    const field = container.querySelector('input');
    if (field && field.form) return field.form;
    return container.closest('form');
  }

  // Called by action, fill and describe: where the form would send its data, the button's
  // formaction before the form's action; url null for fields outside a <form>.
  function target(container) {
    const form = formOf(container);
    if (!form) return { url: null, method: null, via_button: false };
    const button = submitButton(container);
    if (button && button.hasAttribute('formaction')) {
      const method = button.getAttribute('formmethod') || formMethodGetter.call(form);
      return { url: button.formAction, method: method.toLowerCase(), via_button: true };
    }
    return {
      url: formActionGetter.call(form),
      method: formMethodGetter.call(form).toLowerCase(),
      via_button: false,
    };
  }

  // Called by describe and fill: would an https document send this form over plain http?
  // The page was delivered securely; its credentials must not leave it in clear text.
  function postsInsecurely(container) {
    if (win.location.protocol !== 'https:') return false;
    const { url } = target(container);
    return typeof url === 'string' && url.toLowerCase().startsWith('http:');
  }

  // ACTION: where the form would send its data: the button's formaction, else the form's.
  function action(request) {
    if (request.nonce !== nonce) return { status: Status.DOCUMENT_CHANGED };
    const container = lookup(formsById, request.form);
    if (!container) return { status: Status.FORM_GONE };
    return { status: Status.OK, ...target(container) };
  }

  // SUBMIT: click the visible submit button; else submit the <form> as a button would;
  // else (fields outside a form) focus the last field so the browser side presses a real
  // Enter key there, which page scripts handle.
  function submit(request) {
    if (request.nonce !== nonce) return { status: Status.DOCUMENT_CHANGED };
    const container = lookup(formsById, request.form);
    if (!container) return { status: Status.FORM_GONE };
    const button = submitButton(container);
    if (button) {
      button.click();
      return { status: Status.OK, method: 'button' };
    }
    const form = formOf(container);
    if (form) {
      form.requestSubmit();
      return { status: Status.OK, method: 'request_submit' };
    }
    const last = lookup(fieldsById, request.focus || '');
    if (last) {
      last.focus();
      return { status: Status.OK, method: 'enter' };
    }
    return { status: Status.NO_SUBMIT };
  }

  // PROBE_FRAME with an element: called with an <iframe> of this document (found by the
  // browser side from the frame id through CDP) and a point inside that frame's viewport.
  // Is the frame seen at that point? Answers the point in this document's viewport.
  function probeFrame(request, iframe) {
    if (!(iframe instanceof HTMLIFrameElement || iframe instanceof HTMLFrameElement)) {
      return { ok: false, reason: 'not_a_frame' };
    }
    let rect = iframe.getBoundingClientRect();
    if (rect.width < MIN_FIELD_PX || rect.height < MIN_FIELD_PX)
      return { ok: false, reason: 'too_small' };
    const style = getComputedStyleOf(iframe);
    if (style.visibility !== 'visible') return { ok: false, reason: 'visibility' };
    const chain = ancestorCheck(iframe, rect);
    if (!chain.ok) return chain;
    const inner = (box) => ({
      x:
        box.left +
        iframe.clientLeft +
        (Number.parseFloat(style.paddingLeft) || 0) +
        Number(request.x),
      y:
        box.top +
        iframe.clientTop +
        (Number.parseFloat(style.paddingTop) || 0) +
        Number(request.y),
    });
    let { x, y } = inner(rect);
    if (x < 0 || y < 0 || x >= win.innerWidth || y >= win.innerHeight) {
      iframe.scrollIntoView({ block: 'center', inline: 'center' });
      rect = iframe.getBoundingClientRect();
      ({ x, y } = inner(rect));
    }
    if (!(x >= rect.left && y >= rect.top && x < rect.right && y < rect.bottom)) {
      return { ok: false, reason: 'clipped' };
    }
    if (x < 0 || y < 0 || x >= win.innerWidth || y >= win.innerHeight) {
      return { ok: false, reason: 'off_screen' };
    }
    let hit = doc.elementFromPoint(x, y);
    while (hit && hit.shadowRoot && hit !== iframe) {
      const deeper = hit.shadowRoot.elementFromPoint(x, y);
      if (!deeper || deeper === hit) break;
      hit = deeper;
    }
    if (hit !== iframe) return { ok: false, reason: 'covered' };
    return { ok: true, x, y };
  }

  // PROBE_FRAME without an element: where a field's centre sits in this frame's viewport,
  // after scrolling it into view. The browser side then probes each parent frame.
  function fieldBox(request) {
    const el = lookup(fieldsById, request.field || '');
    if (!el) return { ok: false, reason: 'field_gone' };
    el.scrollIntoView({ block: 'center', inline: 'center' });
    const vis = visibility(el);
    if (!vis.ok || vis.deferred) return { ok: false, reason: vis.reason || 'off_screen' };
    const rect = vis.rect;
    return { ok: true, x: rect.left + rect.width / 2, y: rect.top + rect.height / 2 };
  }

  // The single entry point. Called by the browser side with one request object.
  function handle(request, subject) {
    if (!request || typeof request !== 'object') return { status: Status.BAD_REQUEST };
    styleCache = new Map(); // every request sees the page as it is now
    switch (request.type) {
      case Request.DESCRIBE:
        return describe(request);
      case Request.FILL:
        return fill(request);
      case Request.ACTION:
        return action(request);
      case Request.SUBMIT:
        return submit(request);
      case Request.CLEAR:
        return clear(request);
      case Request.PROBE_FRAME:
        return subject ? probeFrame(request, subject) : fieldBox(request);
      default:
        return { status: Status.BAD_REQUEST };
    }
  }

  Object.defineProperty(globalThis, HANDLE_KEY, {
    value: Object.freeze(handle),
    enumerable: false,
    writable: false,
    configurable: false,
  });

  // Triggered when the document gains or loses inputs: tell the browser side, without
  // details, so a sign-in can wait for a form that appears late.
  let pending = 0;
  function scheduleNotify() {
    if (pending) return;
    pending = win.setTimeout(() => {
      pending = 0;
      notify({ event: 'changed' });
    }, NOTIFY_DELAY_MS);
  }
  function watch() {
    const observer = new MutationObserver(scheduleNotify);
    observer.observe(doc, {
      childList: true,
      subtree: true,
      attributes: true,
      attributeFilter: ['style', 'class', 'hidden', 'type'],
    });
    notify({ event: 'ready' });
  }
  if (doc.readyState === 'loading')
    doc.addEventListener('DOMContentLoaded', watch, { once: true });
  else watch();
})();
