// The --comfy-report page. The cards travel as JSON strings (#comfy-cards, failures first) and
// are shown a page at a time (the first page is already in the HTML); the filter box narrows
// them; keys walk the failures, tick accept and switch a comparison's view. What the page shows
// is also written to data-* attributes and the title, so that a headless browser can read it.
(function(){
function start(cards){
  var body=document.body, list=document.getElementById('cards');
  var SIZE=parseInt(body.dataset.pageSize,10)||50;
  var shown=cards.map(function(c,i){return i;});  // indices of the cards the filter lets through
  var page=0, current=-1, accepted={};  // current: an index into cards; accepted: node id -> true

  function pages(){return Math.max(1,Math.ceil(shown.length/SIZE));}
  function label(){
    var first=page*SIZE, last=Math.min(shown.length,first+SIZE);
    document.getElementById('page-label').textContent=shown.length?
      'cards '+(first+1)+'-'+last+' of '+shown.length+(shown.length<cards.length?' (filtered from '+cards.length+')':''):
      'no card matches';
    document.getElementById('page-prev').disabled=page<=0;
    document.getElementById('page-next').disabled=page>=pages()-1;
    body.setAttribute('data-page',page);body.setAttribute('data-pages',pages());body.setAttribute('data-shown',shown.length);
  }
  function draw(){
    list.innerHTML=shown.slice(page*SIZE,(page+1)*SIZE).map(function(i){return cards[i].h;}).join('\n');
    settle();
  }
  function settle(){  // what a drawn page keeps from the reader: ticks, the current card
    list.querySelectorAll('.accept-box').forEach(function(c){c.checked=!!accepted[c.dataset.nodeid];});
    mark();label();check();
  }
  function cardEl(i){
    if(i<0)return null;
    var id=cards[i].n;
    return Array.prototype.find.call(list.querySelectorAll('.card'),function(c){return c.dataset.nodeid===id;})||null;
  }
  function mark(){
    var was=list.querySelector('.card.current');if(was)was.classList.remove('current');
    var el=cardEl(current);if(el)el.classList.add('current');
    body.setAttribute('data-current',current>=0?cards[current].n:'');
    return el;
  }
  function go(position){  // position: in the filtered list
    if(position<0||position>=shown.length)return;
    var wanted=Math.floor(position/SIZE);current=shown[position];
    if(wanted!==page){page=wanted;draw();}
    var el=mark();if(el)el.scrollIntoView({block:'start'});
  }
  function failure(step){  // the next (1) or previous (-1) failed card after the current one
    var at=shown.indexOf(current), k=at<0?(step>0?0:shown.length-1):at+step;
    for(;k>=0&&k<shown.length;k+=step){if(cards[shown[k]].o==='failed'){go(k);return;}}
  }
  function turn(step){var p=page+step;if(p>=0&&p<pages()){page=p;draw();window.scrollTo(0,list.offsetTop);}}

  // Filter: prompt, batch, outcome, failure text or parameter.
  var filter=document.getElementById('filter');
  filter.addEventListener('input',function(){
    var q=filter.value.toLowerCase().trim();
    shown=[];cards.forEach(function(c,i){if(!q||c.s.indexOf(q)>=0)shown.push(i);});
    page=0;draw();
  });
  document.getElementById('page-prev').addEventListener('click',function(){turn(-1);});
  document.getElementById('page-next').addEventListener('click',function(){turn(1);});

  // A comparison's view: side by side, slider (the new image from the split rightwards) or
  // overlay (the new image over the baseline, as opaque as the split says).
  var VIEWS=['side','slider','overlay'];
  function view(compare,mode){
    compare.setAttribute('data-view',mode);
    compare.querySelectorAll('.modes button').forEach(function(b){b.setAttribute('aria-pressed',b.dataset.view===mode);});
  }
  function split(compare,value){
    value=Math.max(0,Math.min(100,value));
    var range=compare.querySelector('input.split');if(range)range.value=value;
    compare.style.setProperty('--split',value+'%');compare.style.setProperty('--alpha',value/100);
    compare.setAttribute('data-split',value);
  }
  list.addEventListener('click',function(e){
    var b=e.target.closest('.modes button');if(b)view(b.closest('.compare'),b.dataset.view);
  });
  list.addEventListener('input',function(e){
    if(e.target.matches('input.split'))split(e.target.closest('.compare'),+e.target.value);
  });

  // Review: ticked cards' test ids download as accepted.json, for pytest --comfy-accept.
  var download=document.getElementById('accept-download');
  function ticked(){return Object.keys(accepted).filter(function(k){return accepted[k];});}
  function counted(){
    var n=ticked().length;body.setAttribute('data-accepted',n);
    if(download){document.getElementById('accept-count').textContent=n;download.disabled=!n;}
  }
  list.addEventListener('change',function(e){
    if(e.target.matches('.accept-box')){accepted[e.target.dataset.nodeid]=e.target.checked;counted();}
  });
  if(download){download.addEventListener('click',function(){
    var blob=new Blob([JSON.stringify(ticked(),null,1)+'\n'],{type:'application/json'});
    var a=document.createElement('a');a.href=URL.createObjectURL(blob);a.download='accepted.json';
    document.body.appendChild(a);a.click();a.remove();});}

  document.addEventListener('keydown',function(e){
    if(e.ctrlKey||e.metaKey||e.altKey||e.target.matches('input[type=search],input[type=text],textarea'))return;
    var el=cardEl(current), views=el?el.querySelectorAll('.compare.view'):[];
    if(e.key==='j')failure(1);
    else if(e.key==='k')failure(-1);
    else if(e.key==='n')turn(1);
    else if(e.key==='p')turn(-1);
    else if(e.key==='a'&&el){var box=el.querySelector('.accept-box');
      if(box){box.checked=!box.checked;box.dispatchEvent(new Event('change',{bubbles:true}));}}
    else if(e.key==='v')views.forEach(function(c){view(c,VIEWS[(VIEWS.indexOf(c.dataset.view)+1)%VIEWS.length]);});
    else if(e.key==='['||e.key===']')views.forEach(function(c){split(c,(+c.dataset.split||50)+(e.key===']'?10:-10));});
    else return;
    e.preventDefault();
  });

  // Which pictures decoded (lazily loaded ones as they arrive), and how wide each node's bar was drawn.
  var pending=0;
  function check(){
    pending=0;
    var imgs=Array.prototype.slice.call(list.querySelectorAll('img')),ok=0;
    imgs.forEach(function(i){var good=i.complete&&i.naturalWidth>0;i.setAttribute('data-loaded',good?'yes':'no');if(good)ok++;});
    list.querySelectorAll('.bars .fill').forEach(function(f){
      f.setAttribute('data-px',f.getBoundingClientRect().width.toFixed(1));
      f.setAttribute('data-track-px',f.parentNode.getBoundingClientRect().width.toFixed(1));});
    var first=list.querySelector('.card');
    body.setAttribute('data-images',imgs.length);body.setAttribute('data-loaded',ok);
    document.title='comfy report: '+ok+'/'+imgs.length+' images loaded; first: '+(first?first.dataset.outcome+' '+first.dataset.nodeid:'none');
  }
  document.addEventListener('load',function(e){if(e.target.tagName==='IMG'&&!pending)pending=setTimeout(check,50);},true);
  document.addEventListener('error',function(e){if(e.target.tagName==='IMG'&&!pending)pending=setTimeout(check,50);},true);
  settle();counted();
  window.comfyReport={ready:performance.now(),cards:cards.length,go:go};
  body.setAttribute('data-ready','yes');
  if(document.readyState!=='complete')window.addEventListener('load',check);
}
// The cards: in the page, or in cards.js beside it (a deferred script that calls comfyCards).
var inline=document.getElementById('comfy-cards');
if(inline)start(JSON.parse(inline.textContent));else window.comfyCards=start;
})();
